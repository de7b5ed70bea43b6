using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Schedules;
using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.TorchSharp.Losses;

namespace KnowledgeDistillation.TorchSharp.Recipes;

/// <summary>
/// Logit losses by name, as torchdistill configures its losses: a recipe names a loss (<c>hinton</c>, <c>jsd:beta=0.3</c>,
/// <c>dkd:tckd=1,nckd=8</c>) and the registry builds it with the recipe's α and temperature schedules and with what the
/// teacher provides. <see cref="Default"/> holds the library's losses; <see cref="Register"/> adds your own, which every
/// recipe, and the <c>kd</c> tool, can then name.
/// </summary>
public sealed class LossRegistry
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>A registry holding the library's losses (a fresh copy: registering into it does not change other registries).</summary>
    public static LossRegistry CreateDefault()
    {
        var registry = new LossRegistry();
        registry.Register("ce", "cross-entropy with the labels alone (the student without a teacher)", [], _ => TorchLosses.HardLabel());
        registry.Register("hinton", "Hinton et al. (2015): α·T²·KL(teacher ‖ student) + (1 − α)·CE; against a top-k teacher, its top-k form", [], c =>
            c.TeacherProvides.HasFlag(TeacherTargetKinds.DenseLogits)
                ? TorchLosses.Hinton(c.Alpha, c.Temperature)
                : TorchLosses.TopKHinton(c.Alpha, c.Temperature, Math.Max(1, c.TeacherTopK)));
        registry.Register("hinton-topk", "Hinton KD against the teacher's top-k only (k = the teacher's, or parameter k; mass = renormalize | bucket)", ["k", "mass"], c =>
            TorchLosses.TopKHinton(c.Alpha, c.Temperature, c.Spec.Int("k", c.TeacherTopK > 0 ? c.TeacherTopK : 5)!.Value, Mass(c.Spec)));
        registry.Register("forward-kl", "α·T²·KL(teacher ‖ student) + (1 − α)·CE, as two reported terms", [], c => SoftTarget(c, DivergenceKind.ForwardKl));
        registry.Register("reverse-kl", "α·T²·KL(student ‖ teacher) + (1 − α)·CE (mode-seeking)", [], c => SoftTarget(c, DivergenceKind.ReverseKl));
        registry.Register("jsd", "α·T²·JSD_β(teacher, student) + (1 − α)·CE (parameter beta, default 0.5)", ["beta"], c => SoftTarget(c, DivergenceKind.JensenShannon));
        registry.Register("soft-ce", "α·T²·CE(teacher, student) + (1 − α)·CE: the same gradient as forward KL", [], c => SoftTarget(c, DivergenceKind.SoftTargetCrossEntropy));
        registry.Register("dkd", "decoupled KD (Zhao et al. 2022): tckd·TCKD + nckd·NCKD at T, plus the hard-label CE with weight 1 (parameters tckd, default 1; nckd, default 8)", ["tckd", "nckd"], c =>
            TorchLosses.Composite([(new DecoupledKdLoss(c.Spec.Float("tckd", 1), c.Spec.Float("nckd", 8), c.Temperature), Schedule.Constant(1)), (TorchLosses.HardLabel(), Schedule.Constant(1))]));
        registry.Register("token-kd", "token-level KD of a language model: α·D(teacher ‖ student) + (1 − α)·CE over counting positions (divergence = forward-kl | reverse-kl | jsd, beta, vocabulary, mass)", ["divergence", "beta", "vocabulary", "mass"], c =>
            new TokenDistillationLoss(c.Alpha, c.Temperature, new SequenceLossOptions
            {
                Kind = Divergence(c.Spec.Text("divergence", "forward-kl")),
                JsdBeta = c.Spec.Float("beta", 0.5f),
                VocabularySize = c.Spec.Int("vocabulary", null),
                TopKTreatment = Mass(c.Spec),
            }, c.TokenMapping));
        return registry;
    }

    /// <summary>The library's losses.</summary>
    public static LossRegistry Default { get; } = CreateDefault();

    /// <summary>The registered names, in registration order.</summary>
    public IReadOnlyList<string> Names => [.. _entries.Keys];

    /// <summary>A one-line description of each loss, for help texts.</summary>
    public IReadOnlyDictionary<string, string> Descriptions => _entries.ToDictionary(kv => kv.Key, kv => kv.Value.Description);

    /// <summary>Adds (or replaces) a loss under <paramref name="name"/>.</summary>
    /// <param name="name">The name recipes use (lower case, no ':').</param>
    /// <param name="description">One line for help texts.</param>
    /// <param name="parameters">The parameter keys the factory reads; others are refused with a message listing these.</param>
    /// <param name="factory">Builds the loss.</param>
    public void Register(string name, string description, IReadOnlyList<string> parameters, Func<LossContext, IDistillationLoss> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(factory);
        if (name.Contains(':', StringComparison.Ordinal) || name != name.ToLowerInvariant())
        {
            throw new ArgumentException($"Loss name '{name}' must be lower case without ':'.", nameof(name));
        }
        _entries[name] = new Entry(description ?? "", parameters, factory);
    }

    /// <summary>Builds the loss <paramref name="context"/>'s spec names.</summary>
    /// <exception cref="ArgumentException">The name is unknown or a parameter is not one the loss reads (the message lists what is known).</exception>
    public IDistillationLoss Create(LossContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!_entries.TryGetValue(context.Spec.Name, out Entry? entry))
        {
            throw new ArgumentException($"Unknown loss '{context.Spec.Name}'. Known losses: {string.Join(", ", _entries.Keys)}.", nameof(context));
        }
        string? unknown = context.Spec.Parameters.Keys.FirstOrDefault(k => !entry.Parameters.Contains(k));
        if (unknown is not null)
        {
            throw new ArgumentException(
                $"Loss '{context.Spec.Name}' has no parameter '{unknown}'. {(entry.Parameters.Count == 0 ? "It takes none" : $"It takes {string.Join(", ", entry.Parameters)}")}.", nameof(context));
        }
        try
        {
            return entry.Factory(context);
        }
        catch (FormatException ex)
        {
            throw new ArgumentException(ex.Message, nameof(context), ex);
        }
    }

    private static IDistillationLoss SoftTarget(LossContext c, DivergenceKind kind) =>
        TorchLosses.Composite([(TorchLosses.SoftTarget(kind, c.Temperature, c.Spec.Float("beta", 0.5f)), c.Alpha), (TorchLosses.HardLabel(), Schedule.OneMinus(c.Alpha))]);

    private static TopKMassTreatment? Mass(RecipeSpec spec) => spec.Text("mass", "").ToLowerInvariant() switch
    {
        "" => null,
        "renormalize" => TopKMassTreatment.Renormalize,
        "bucket" => TopKMassTreatment.ExtraBucket,
        string other => throw new FormatException($"Parameter mass={other} of '{spec.Name}' must be renormalize or bucket."),
    };

    private static DivergenceKind Divergence(string text) => text.ToLowerInvariant() switch
    {
        "forward-kl" or "kl" => DivergenceKind.ForwardKl,
        "reverse-kl" => DivergenceKind.ReverseKl,
        "jsd" => DivergenceKind.JensenShannon,
        _ => throw new FormatException($"divergence={text} must be forward-kl, reverse-kl or jsd."),
    };

    private sealed record Entry(string Description, IReadOnlyList<string> Parameters, Func<LossContext, IDistillationLoss> Factory);
}
