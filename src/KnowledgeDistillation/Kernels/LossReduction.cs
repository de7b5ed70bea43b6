namespace KnowledgeDistillation.Kernels;

/// <summary>How per-row losses are combined into one value (PyTorch's names and meanings).</summary>
public enum LossReduction
{
    /// <summary>Sum over rows divided by the number of rows (PyTorch <c>batchmean</c>, the mathematically right KL mean). The default.</summary>
    BatchMean = 0,

    /// <summary>Sum over rows.</summary>
    Sum = 1,

    /// <summary>Sum divided by rows × classes (PyTorch <c>mean</c> for <c>kl_div</c>: the per-element mean).</summary>
    Mean = 2,

    /// <summary>No reduction: each row's loss goes to the <c>rowLosses</c> destination; the return value and gradient are those of the sum.</summary>
    None = 3,
}
