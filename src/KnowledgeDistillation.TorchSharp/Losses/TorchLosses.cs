using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Schedules;

namespace KnowledgeDistillation.TorchSharp.Losses;

/// <summary>
/// The library's logit losses with both forms: the fused CPU kernels of the core loss, and TorchSharp operations
/// (<see cref="ITorchLogitLoss"/>) for logits that stay on their device. Each factory takes the same parameters as the core
/// loss it wraps, and reports the same terms and parameters.
/// </summary>
public static class TorchLosses
{
    /// <summary>Cross-entropy with the hard labels (<see cref="HardLabelLoss"/>).</summary>
    public static ITorchLogitLoss HardLabel() => new TorchHardLabelLoss(new HardLabelLoss());

    /// <summary>Hinton distillation (<see cref="HintonDistillationLoss"/>).</summary>
    public static ITorchLogitLoss Hinton(ISchedule alpha, ISchedule temperature) => new TorchHintonLoss(new HintonDistillationLoss(alpha, temperature));

    /// <summary>A temperature-softened divergence (<see cref="SoftTargetLoss"/>).</summary>
    public static ITorchLogitLoss SoftTarget(DivergenceKind kind, ISchedule temperature, float jsdBeta = 0.5f, bool scaleByTemperatureSquared = true) =>
        new TorchSoftTargetLoss(new SoftTargetLoss(kind, temperature, jsdBeta, scaleByTemperatureSquared));

    /// <summary>Hinton distillation against a sparse top-k teacher (<see cref="TopKHintonDistillationLoss"/>).</summary>
    public static ITorchLogitLoss TopKHinton(ISchedule alpha, ISchedule temperature, int topK = 5, TopKMassTreatment? treatment = null) =>
        new TorchTopKHintonLoss(new TopKHintonDistillationLoss(alpha, temperature, topK, treatment));

    /// <summary>
    /// A weighted sum (<see cref="CompositeDistillationLoss"/>). It has a TorchSharp form when every term has one; otherwise the
    /// plain composite is returned (it runs on the fused kernels only, and says so when asked for TorchSharp operations).
    /// </summary>
    public static IDistillationLoss Composite(IEnumerable<(IDistillationLoss Loss, ISchedule Weight)> terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        (IDistillationLoss Loss, ISchedule Weight)[] list = terms.ToArray();
        var composite = new CompositeDistillationLoss(list);
        ITorchLogitLoss[] torch = list.Select(t => t.Loss).OfType<ITorchLogitLoss>().ToArray();
        return torch.Length == list.Length ? new TorchCompositeLoss(composite, torch) : composite;
    }
}
