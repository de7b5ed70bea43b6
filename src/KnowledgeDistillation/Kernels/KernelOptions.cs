namespace KnowledgeDistillation.Kernels;

/// <summary>Reduction, scaling, validation and threading choices shared by the distillation kernels. <c>default</c> is valid.</summary>
public readonly record struct KernelOptions
{
    private readonly float? _jsdBeta;

    /// <summary>How rows are combined; ignored when <see cref="Normalizer"/> is set. Default <see cref="LossReduction.BatchMean"/>.</summary>
    public LossReduction Reduction { get; init; }

    /// <summary>
    /// Explicit divisor of the summed loss (and gradient), for example the number of valid tokens in the whole accumulated
    /// batch, so that gradient accumulation over micro-batches adds up to the full-batch gradient. Must be finite and &gt; 0.
    /// </summary>
    public float? Normalizer { get; init; }

    /// <summary>Multiply loss and gradient by T² (Hinton et al. 2015), keeping gradient magnitudes independent of T.</summary>
    public bool ScaleByTemperatureSquared { get; init; }

    /// <summary>
    /// Skip the NaN/±Inf check of the logits. The check is fused into the max pass and costs almost nothing; with it off,
    /// non-finite inputs give unspecified (usually NaN) results instead of an <see cref="ArgumentException"/>.
    /// </summary>
    public bool SkipFiniteCheck { get; init; }

    /// <summary>Threads over rows: 0 or 1 single-threaded (no allocation), −1 all cores, n at most n. Results are bit-identical for every value.</summary>
    public int MaxDegreeOfParallelism { get; init; }

    /// <summary>β of <see cref="DivergenceKind.JensenShannon"/> in [0, 1]: 0 is forward KL, 1 reverse KL. Default 0.5.</summary>
    public float JsdBeta
    {
        get => _jsdBeta ?? 0.5f;
        init => _jsdBeta = value;
    }
}
