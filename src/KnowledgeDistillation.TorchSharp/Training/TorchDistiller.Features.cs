using KnowledgeDistillation.Data;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.TorchSharp.Features;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.TorchSharp.Teachers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Training;

// Feature and attention distillation: the feature terms run as TorchSharp operations (autograd) and are added to the
// logit term's surrogate before the single backward pass; each is reported under its own name in the history.
public sealed partial class TorchDistiller
{
    /// <summary>
    /// Feature losses added to the logit loss (<see cref="AttentionTransferLoss"/>, <see cref="FitNetHintLoss"/>,
    /// <see cref="SimilarityPreservingLoss"/>, <see cref="RelationalKdLoss"/>, …): each contributes
    /// <c>Weight × value</c> to the total and its unweighted value to the history under its name. They need a teacher signal
    /// that gives the named features (<see cref="Abstractions.ModelMetadata.IntermediateNames"/> of its <see cref="ITeacherSignal{TBatch}.Metadata"/>: a TorchSharp model, or an
    /// <see cref="Abstractions.ITeacher"/> returning the requested intermediates; not a cache). Adapter parameters are
    /// optimised with the student and are not part of it.
    /// <value>The default value is empty (logit distillation only).</value>
    /// </summary>
    public IReadOnlyList<FeatureDistillationLoss> FeatureLosses { get; init; } = [];

    /// <summary>
    /// FitNets' two stages: the first <c>HintEpochs</c> of <see cref="KnowledgeDistillation.Training.DistillationOptions.Epochs"/> optimise the feature
    /// losses only (hint pre-training; the logit loss is not computed), the remaining epochs the full loss.
    /// <value>The default value is 0 (one joint stage).</value>
    /// </summary>
    public int HintEpochs { get; init; }

    private string[] StudentFeatureNames => FeatureLosses.SelectMany(l => l.Pairs).Select(p => p.Student).Distinct().ToArray();

    private string[] TeacherFeatureNames => FeatureLosses.SelectMany(l => l.Pairs).Select(p => p.Teacher).Distinct().ToArray();

    private bool HasFeatureLosses => FeatureLosses.Count > 0;

    private void ValidateFeatureSetup<TBatch>(ITorchModel<TBatch> student, ITeacherSignal<TBatch>? teacher)
    {
        if (HintEpochs < 0 || (HintEpochs > 0 && HintEpochs >= _options.Epochs))
        {
            throw new ArgumentOutOfRangeException(nameof(HintEpochs), HintEpochs,
                $"Hint pre-training epochs must be in [0, Epochs) = [0, {_options.Epochs}): the remaining epochs train with the full loss.");
        }
        if (HintEpochs > 0 && !HasFeatureLosses)
        {
            throw new ArgumentException($"HintEpochs is {HintEpochs} but there are no feature losses to pre-train with; add a FitNetHintLoss or set HintEpochs to 0.", nameof(HintEpochs));
        }
        if (!HasFeatureLosses)
        {
            return;
        }
        string? duplicate = FeatureLosses.GroupBy(l => l.Name).FirstOrDefault(g => g.Count() > 1)?.Key;
        if (duplicate is not null)
        {
            throw new ArgumentException($"Two feature losses are named '{duplicate}'; their terms would be reported under one name. Use one loss with several pairs.", nameof(FeatureLosses));
        }
        string losses = string.Join(", ", FeatureLosses.Select(l => l.Name));
        if (teacher is null)
        {
            throw new ArgumentException($"Feature losses ({losses}) compare with a teacher's layers, but no teacher was given.", nameof(teacher));
        }
        IReadOnlyList<string> available = teacher.Metadata.IntermediateNames;
        if (available.Count == 0)
        {
            throw new ArgumentException(
                $"Feature losses ({losses}) need a live teacher's layers; teacher '{teacher.Metadata.Name}' gives none (a teacher cache holds logits only). Train with the teacher model instead.", nameof(teacher));
        }
        student.EnsureCapturable(StudentFeatureNames, "student");
        string[] unknown = TeacherFeatureNames.Where(n => !available.Contains(n)).ToArray();
        if (unknown.Length > 0)
        {
            throw new ArgumentException(
                $"The teacher ('{teacher.Metadata.Name}') has no layer named {string.Join(", ", unknown.Select(u => $"'{u}'"))}. Available: {string.Join(", ", available)}.", nameof(teacher));
        }
    }

    /// <summary>Runs one probe batch through both models (evaluation mode, no gradients) so that adapters are created from the real shapes.</summary>
    private async Task InitializeFeatureLossesAsync<TBatch>(ITorchModel<TBatch> student, ITeacherSignal<TBatch> teacher, IBatchSource<TBatch> train, CancellationToken cancellationToken)
    {
        if (FeatureLosses.All(l => l.IsInitialized))
        {
            return;
        }
        TBatch probe = train.GetBatches(_options.BatchSize, shuffle: false, 0, 0).First();
        TeacherStepTargets teacherOutput = await teacher.FetchAsync(probe, new TeacherSignalRequest(false, TeacherFeatureNames, student.Device), cancellationToken).ConfigureAwait(false);
        Dictionary<string, long[]> studentShapes, teacherShapes;
        using (var scope = torch.NewDisposeScope())
        using (torch.no_grad())
        {
            teacherOutput.Prepare();
            teacherShapes = TeacherFeatureNames.ToDictionary(n => n, n => teacherOutput.Feature(n, student.Device).shape);
            bool wasTraining = student.Module.training;
            student.Module.eval();
            try
            {
                var captured = new Dictionary<string, Tensor>();
                student.ForwardRows(student.ToInput(probe), StudentFeatureNames, captured);
                studentShapes = captured.ToDictionary(kv => kv.Key, kv => kv.Value.shape);
            }
            finally
            {
                student.Module.train(wasTraining);
            }
        }
        // Adapters draw their initial weights from libtorch's global RNG: seed it so a run is reproducible.
        torch.manual_seed(unchecked((_options.Seed * 104729L) + 17));
        foreach (FeatureDistillationLoss loss in FeatureLosses)
        {
            loss.Initialize(loss.Pairs.Select(p => studentShapes[p.Student]).ToArray(), loss.Pairs.Select(p => teacherShapes[p.Teacher]).ToArray(), student.Device);
        }
    }

    /// <summary>The student's parameters and those of every feature loss's adapters: what the optimizer updates.</summary>
    private IEnumerable<Parameter> TrainableParameters<TBatch>(ITorchModel<TBatch> student) =>
        student.Module.parameters().Concat(FeatureLosses.SelectMany(l => l.Parameters));

    /// <summary>
    /// The weighted sum of the feature terms, scaled by <paramref name="rowShare"/> (this micro-batch's share of the
    /// accumulated rows, so that accumulation averages over rows like the logit term), and each unweighted term.
    /// </summary>
    private (Tensor? Total, Dictionary<string, float> Terms) ComputeFeatureTerms(
        IDictionary<string, Tensor> student, IDictionary<string, Tensor> teacher, float rowShare)
    {
        var terms = new Dictionary<string, float>();
        Tensor? total = null;
        foreach (FeatureDistillationLoss loss in FeatureLosses)
        {
            Tensor value = loss.Compute(loss.Pairs.Select(p => student[p.Student]).ToArray(), loss.Pairs.Select(p => teacher[p.Teacher]).ToArray());
            terms[loss.Name] = value.detach().to(CPU).item<float>() * rowShare;
            using Scalar scale = (loss.Weight * rowShare).ToScalar();
            Tensor weighted = value.mul(scale);
            total = total is null ? weighted : total.add(weighted, TorchScalars.One);
        }
        return (total, terms);
    }

    private static LossValue Combine(LossValue? logit, Tensor? featureTotal, Dictionary<string, float> featureTerms)
    {
        var terms = logit is null ? new Dictionary<string, float>() : new Dictionary<string, float>(logit.Terms);
        float total = logit?.Total ?? 0;
        foreach ((string key, float v) in featureTerms)
        {
            terms[key] = v;
        }
        if (featureTotal is not null)
        {
            total += featureTotal.detach().to(CPU).item<float>();
        }
        return new LossValue(total, terms, logit?.Parameters ?? new Dictionary<string, float>());
    }
}
