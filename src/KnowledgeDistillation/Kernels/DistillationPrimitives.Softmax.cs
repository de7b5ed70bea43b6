namespace KnowledgeDistillation.Kernels;

public static partial class DistillationPrimitives
{
    /// <summary>Row-wise softmax(x / T), max-subtracted (unlike TensorPrimitives.SoftMax, safe for logits like 1000, 1001).</summary>
    /// <param name="logits">Input, [rows × classes].</param>
    /// <param name="classes">Classes per row (≥ 1).</param>
    /// <param name="temperature">Temperature T, finite and &gt; 0.</param>
    /// <param name="destination">Output probabilities, same length as <paramref name="logits"/>; may be the same memory.</param>
    /// <param name="options">Finite check and threading (other members unused).</param>
    public static void Softmax(ReadOnlySpan<float> logits, int classes, float temperature, Span<float> destination, KernelOptions options = default) =>
        SoftmaxCore(logits, classes, temperature, destination, options, SoftmaxMode.Softmax);

    /// <summary>Row-wise log_softmax(x / T) = x/T − max/T − log Σ exp(x/T − max/T).</summary>
    /// <param name="logits">Input, [rows × classes].</param>
    /// <param name="classes">Classes per row (≥ 1).</param>
    /// <param name="temperature">Temperature T, finite and &gt; 0.</param>
    /// <param name="destination">Output log-probabilities, same length as <paramref name="logits"/>; may be the same memory.</param>
    /// <param name="options">Finite check and threading (other members unused).</param>
    public static void LogSoftmax(ReadOnlySpan<float> logits, int classes, float temperature, Span<float> destination, KernelOptions options = default) =>
        SoftmaxCore(logits, classes, temperature, destination, options, SoftmaxMode.LogSoftmax);

    /// <summary>Row-wise log Σ_j exp(x_j / T) (of the scaled logits; multiply by T for the "soft maximum" of x).</summary>
    /// <param name="logits">Input, [rows × classes].</param>
    /// <param name="classes">Classes per row (≥ 1).</param>
    /// <param name="temperature">Temperature T, finite and &gt; 0.</param>
    /// <param name="destination">One value per row.</param>
    /// <param name="options">Finite check and threading (other members unused).</param>
    public static void LogSumExp(ReadOnlySpan<float> logits, int classes, float temperature, Span<float> destination, KernelOptions options = default) =>
        SoftmaxCore(logits, classes, temperature, destination, options, SoftmaxMode.LogSumExp);

    private static unsafe void SoftmaxCore(ReadOnlySpan<float> logits, int classes, float temperature, Span<float> destination, in KernelOptions options, SoftmaxMode mode)
    {
        int rows = KernelValidation.Rows(logits.Length, classes, nameof(logits));
        KernelValidation.SameLength(mode == SoftmaxMode.LogSumExp ? rows : logits.Length, destination.Length, nameof(destination), mode == SoftmaxMode.LogSumExp ? "rows" : "logits.Length");
        KernelValidation.Temperature(temperature);
        bool checkFinite = !options.SkipFiniteCheck;
        RowLoss total;
        fixed (float* source = logits)
        fixed (float* target = destination)
        {
            var job = new SoftmaxJob(source, target, classes, 1f / temperature, mode, checkFinite);
            total = RowScheduler.Run(job, rows, classes, options.MaxDegreeOfParallelism, default, 1d);
        }

        if (checkFinite && !double.IsFinite(total.Primary))
        {
            KernelValidation.ThrowIfNonFinite(logits, classes, nameof(logits));
        }
    }
}
