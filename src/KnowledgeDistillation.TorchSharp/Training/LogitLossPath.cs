namespace KnowledgeDistillation.TorchSharp.Training;

/// <summary>How the logit loss and its gradient are computed.</summary>
public enum LogitLossPath
{
    /// <summary>Fused CPU kernels on the CPU; TorchSharp operations on CUDA (for Hinton and hard-label losses).</summary>
    Auto,

    /// <summary>Always the fused CPU kernels (logits are copied to the CPU and the gradient back).</summary>
    FusedCpuKernels,

    /// <summary>Always TorchSharp operations with libtorch autograd (Hinton and hard-label losses only).</summary>
    TorchOperations,
}
