namespace KnowledgeDistillation.TorchSharp.Features;

/// <summary>The distance between the regressed student features and the teacher's hint.</summary>
public enum HintDistance
{
    /// <summary>Mean squared error (the FitNets paper's L2 loss, averaged over elements).</summary>
    Mse,

    /// <summary>Smooth L1 (Huber with δ = 1), averaged over elements.</summary>
    SmoothL1,
}
