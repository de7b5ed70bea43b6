namespace KnowledgeDistillation.TorchSharp.Features;

/// <summary>Which published form of the attention-transfer loss to use (see docs/feature-distillation.md).</summary>
public enum AttentionTransferMode
{
    /// <summary>
    /// The authors' code (github.com/szagoruyko/attention-transfer, <c>at_loss</c>): per pair, the mean over batch and
    /// positions of the squared difference of the normalised maps, summed over pairs and multiplied by β (default 1000).
    /// </summary>
    AuthorsCode,

    /// <summary>
    /// The paper's equation 2: β/2 times the (unsquared) L2 norm of the difference of the normalised maps, summed over
    /// pairs and averaged over the batch (default β = 1).
    /// </summary>
    PaperEquation,
}
