using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Schedules;
using KnowledgeDistillation.TorchSharp.Features;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;

namespace KnowledgeDistillation.TorchSharp.Recipes;

/// <summary>
/// A distillation recipe by name, as the <c>kd</c> tool takes it and a library user writes it in a few lines: the method
/// (<c>kd</c>, <c>at+kd</c>, <c>fitnet+kd</c>, …), the logit loss (<c>hinton</c>, <c>jsd:beta=0.3</c>, …), the α and
/// temperature schedules, the layer pairs and weights of the feature methods, and the FitNets hint stage. It builds the
/// loss, the feature losses and the trainer for one student from the registries.
/// </summary>
/// <example>
/// <code>
/// var recipe = new DistillationRecipe { Method = "at+kd", Loss = "hinton", Alpha = "0.7", Temperature = "1" };
/// TorchDistiller trainer = recipe.CreateTrainer(options, student.Metadata.IntermediateNames, teacher.Metadata.IntermediateNames);
/// await trainer.FitAsync(student, teacher, train);
/// </code>
/// </example>
public sealed record DistillationRecipe
{
    /// <summary>kd, a feature method, or a combination (see <see cref="DistillationMethod"/>). <value>The default value is "kd".</value></summary>
    public string Method { get; init; } = "kd";

    /// <summary>The logit loss of the kd part, as a <see cref="RecipeSpec"/> from <see cref="Losses"/>. <value>The default value is "hinton".</value></summary>
    public string Loss { get; init; } = "hinton";

    /// <summary>The α schedule (<see cref="Schedule.Parse"/>): the weight of the distillation term. <value>The default value is "0.9".</value></summary>
    public string Alpha { get; init; } = "0.9";

    /// <summary>The temperature schedule (<see cref="Schedule.Parse"/>). <value>The default value is "4".</value></summary>
    public string Temperature { get; init; } = "4";

    /// <summary>Layer pairs of the feature methods, <c>student:teacher,…</c>; null for each method's defaults. <value>The default value is null.</value></summary>
    public string? Pairs { get; init; }

    /// <summary>Feature method options (weight, attention-transfer convention). <value>The default value is the methods' defaults.</value></summary>
    public FeatureMethodOptions FeatureOptions { get; init; } = new();

    /// <summary>FitNets hint pre-training epochs (the first epochs train the feature terms only). <value>The default value is 0.</value></summary>
    public int HintEpochs { get; init; }

    /// <summary>The losses by name. <value>The default value is <see cref="LossRegistry.Default"/>.</value></summary>
    public LossRegistry Losses { get; init; } = LossRegistry.Default;

    /// <summary>The feature methods by name. <value>The default value is <see cref="FeatureMethodRegistry.Default"/>.</value></summary>
    public FeatureMethodRegistry FeatureMethods { get; init; } = FeatureMethodRegistry.Default;

    /// <summary>The parsed method.</summary>
    /// <exception cref="ArgumentException">The method is unknown.</exception>
    public DistillationMethod ParsedMethod => DistillationMethod.Parse(Method, FeatureMethods);

    /// <summary>
    /// The logit loss for a student taught by a teacher that provides <paramref name="teacherProvides"/>: the named loss when
    /// the method has <c>kd</c> (for a top-k teacher, its top-k form), the cross-entropy with the labels otherwise.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown loss or parameter, or a schedule that does not parse.</exception>
    public IDistillationLoss CreateLoss(TeacherTargetKinds teacherProvides = TeacherTargetKinds.DenseLogits, int teacherTopK = 0)
    {
        if (!ParsedMethod.Kd)
        {
            return Losses.Create(new LossContext(RecipeSpec.Parse("ce"), Schedule.Constant(0), Schedule.Constant(1)));
        }
        return Losses.Create(new LossContext(RecipeSpec.Parse(Loss), ParseSchedule(Alpha, nameof(Alpha)), ParseSchedule(Temperature, nameof(Temperature)))
        {
            TeacherProvides = teacherProvides,
            TeacherTopK = teacherTopK,
        });
    }

    /// <summary>The layer pairs of each feature method: <see cref="Pairs"/>, or each method's defaults for these layers.</summary>
    /// <exception cref="ArgumentException">No default fits, or the pairs do not parse.</exception>
    public IReadOnlyDictionary<string, IReadOnlyList<LayerPair>> LayerPairs(IReadOnlyList<string> studentLayers, IReadOnlyList<string> teacherLayers)
    {
        var result = new Dictionary<string, IReadOnlyList<LayerPair>>();
        IReadOnlyList<LayerPair>? given = null;
        if (Pairs is not null)
        {
            try
            {
                given = LayerPair.ParseList(Pairs);
            }
            catch (FormatException ex)
            {
                throw new ArgumentException(ex.Message, nameof(Pairs), ex);
            }
        }
        foreach (string feature in ParsedMethod.Features)
        {
            result[feature] = given ?? FeatureMethodRegistry.DefaultPairs(feature, studentLayers, teacherLayers);
        }
        return result;
    }

    /// <summary>Fresh feature losses (and adapters) for one student; dispose them after its training.</summary>
    public IReadOnlyList<FeatureDistillationLoss> CreateFeatureLosses(IReadOnlyList<string> studentLayers, IReadOnlyList<string> teacherLayers) =>
        [.. LayerPairs(studentLayers, teacherLayers).Select(kv => FeatureMethods.Create(kv.Key, kv.Value, FeatureOptions))];

    /// <summary>Checks the recipe (method, loss, schedules, hint epochs against <paramref name="epochs"/>) without building a model.</summary>
    /// <exception cref="ArgumentException">The first problem found, naming the setting and the fix.</exception>
    public void Validate(int epochs)
    {
        DistillationMethod method = ParsedMethod;
        _ = CreateLoss();
        if (HintEpochs < 0 || (HintEpochs > 0 && HintEpochs >= epochs))
        {
            throw new ArgumentOutOfRangeException(nameof(HintEpochs), HintEpochs, $"Hint pre-training takes the first N of the {epochs} student epochs: use 0 <= N < epochs.");
        }
        if (HintEpochs > 0 && method.Features.Count == 0)
        {
            throw new ArgumentException($"HintEpochs is {HintEpochs}, which pre-trains on feature losses, but method {Method} has none; use fitnet or fitnet+kd.", nameof(HintEpochs));
        }
        if (FeatureOptions.Weight is { } w && (!float.IsFinite(w) || w < 0))
        {
            throw new ArgumentOutOfRangeException(nameof(FeatureOptions), w, "The feature weight must be finite and non-negative.");
        }
        if (Pairs is not null && method.Features.Count == 0)
        {
            throw new ArgumentException($"Pairs are given but method {Method} has no feature method ({string.Join(", ", FeatureMethods.Names)}).", nameof(Pairs));
        }
    }

    /// <summary>
    /// A trainer for one distilled student: the recipe's loss (for this teacher's targets), fresh feature losses over the
    /// layer pairs, and the hint stage. The caller disposes <see cref="TorchDistiller.FeatureLosses"/> after training.
    /// </summary>
    public TorchDistiller CreateTrainer(
        DistillationOptions options, IReadOnlyList<string> studentLayers, IReadOnlyList<string> teacherLayers, IEnumerable<IDistillationCallback>? callbacks = null,
        TeacherTargetKinds teacherProvides = TeacherTargetKinds.DenseLogits, int teacherTopK = 0) =>
        new(options, CreateLoss(teacherProvides, teacherTopK), callbacks)
        {
            FeatureLosses = CreateFeatureLosses(studentLayers, teacherLayers),
            HintEpochs = HintEpochs,
        };

    private static ISchedule ParseSchedule(string text, string name)
    {
        try
        {
            return Schedule.Parse(text);
        }
        catch (FormatException ex)
        {
            throw new ArgumentException($"{name}: {ex.Message}", name, ex);
        }
    }
}
