using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Losses;

/// <summary>
/// The one rule for what a sparse top-k teacher's mass outside its k entries becomes when the caller does not say: kept as
/// an extra bucket when the values are log-probabilities (the leftover 1 − Σp is known exactly, as an API's top
/// log-probabilities give it), renormalised away when they are logits (the leftover is unknown). Every top-k loss, on the
/// CPU kernels and on the TorchSharp operations, resolves its treatment here.
/// </summary>
public static class TopKMassPolicy
{
    /// <summary>The treatment to use: <paramref name="requested"/> when given, else the rule above.</summary>
    public static TopKMassTreatment Resolve(TopKMassTreatment? requested, TopKValueKind values) =>
        requested ?? (values == TopKValueKind.LogProbabilities ? TopKMassTreatment.ExtraBucket : TopKMassTreatment.Renormalize);
}
