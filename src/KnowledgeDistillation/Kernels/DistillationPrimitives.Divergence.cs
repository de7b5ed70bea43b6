namespace KnowledgeDistillation.Kernels;

/// <summary>
/// Span-based CPU kernels for knowledge distillation over [rows × classes] row-major logits, vectorised with
/// Vector128/256/512 and a scalar tail, allocation-free when single-threaded, and bit-identical for every degree of
/// parallelism. Arguments are validated up front; NaN/±Inf logits throw unless <see cref="KernelOptions.SkipFiniteCheck"/> is set.
/// </summary>
public static partial class DistillationPrimitives
{
    /// <summary>KL(softmax(t/T) ‖ softmax(s/T)) per row, reduced as <paramref name="options"/> says (no gradient).</summary>
    /// <param name="studentLogits">Student logits, [rows × classes].</param>
    /// <param name="teacherLogits">Teacher logits, same shape.</param>
    /// <param name="classes">Classes per row (≥ 1).</param>
    /// <param name="temperature">Softmax temperature T, finite and &gt; 0.</param>
    /// <param name="options">Reduction, normalizer, T² scaling, finite check and threading.</param>
    /// <param name="rowLosses">Optional per-row losses (T²-scaled when asked, not normalised); required for <see cref="LossReduction.None"/>.</param>
    /// <returns>The reduced loss.</returns>
    public static float KlDivergence(
        ReadOnlySpan<float> studentLogits, ReadOnlySpan<float> teacherLogits, int classes, float temperature,
        KernelOptions options = default, Span<float> rowLosses = default) =>
        Divergence(studentLogits, teacherLogits, classes, temperature, DivergenceKind.ForwardKl, options, rowLosses);

    /// <summary>A teacher–student divergence per row, reduced as <paramref name="options"/> says (no gradient).</summary>
    /// <param name="studentLogits">Student logits, [rows × classes].</param>
    /// <param name="teacherLogits">Teacher logits, same shape.</param>
    /// <param name="classes">Classes per row (≥ 1).</param>
    /// <param name="temperature">Softmax temperature T, finite and &gt; 0.</param>
    /// <param name="kind">Which divergence.</param>
    /// <param name="options">Reduction, normalizer, T² scaling, finite check, threading and JSD β.</param>
    /// <param name="rowLosses">Optional per-row losses (T²-scaled when asked, not normalised); required for <see cref="LossReduction.None"/>.</param>
    /// <returns>The reduced loss (the sum for <see cref="LossReduction.None"/>).</returns>
    public static float Divergence(
        ReadOnlySpan<float> studentLogits, ReadOnlySpan<float> teacherLogits, int classes, float temperature, DivergenceKind kind,
        KernelOptions options = default, Span<float> rowLosses = default) =>
        DivergenceCore(studentLogits, teacherLogits, classes, temperature, kind, default, options, rowLosses, requireGradient: false);

    /// <summary>
    /// Fused loss and gradient: returns the reduced divergence and writes d(loss)/d(student logits) into
    /// <paramref name="studentGradient"/>, so the logit term needs no autograd. The gradient is that of the returned value
    /// (the sum for <see cref="LossReduction.None"/>), including T² and the normalizer.
    /// </summary>
    /// <param name="studentLogits">Student logits, [rows × classes].</param>
    /// <param name="teacherLogits">Teacher logits, same shape.</param>
    /// <param name="classes">Classes per row (≥ 1).</param>
    /// <param name="temperature">Softmax temperature T, finite and &gt; 0.</param>
    /// <param name="kind">Which divergence.</param>
    /// <param name="studentGradient">Destination, same length as <paramref name="studentLogits"/>; may not overlap the inputs.</param>
    /// <param name="options">Reduction, normalizer, T² scaling, finite check, threading and JSD β.</param>
    /// <param name="rowLosses">Optional per-row losses (T²-scaled when asked, not normalised); required for <see cref="LossReduction.None"/>.</param>
    /// <returns>The reduced loss.</returns>
    public static float DivergenceWithGradient(
        ReadOnlySpan<float> studentLogits, ReadOnlySpan<float> teacherLogits, int classes, float temperature, DivergenceKind kind,
        Span<float> studentGradient, KernelOptions options = default, Span<float> rowLosses = default) =>
        DivergenceCore(studentLogits, teacherLogits, classes, temperature, kind, studentGradient, options, rowLosses, requireGradient: true);

    private static unsafe float DivergenceCore(
        ReadOnlySpan<float> studentLogits, ReadOnlySpan<float> teacherLogits, int classes, float temperature, DivergenceKind kind,
        Span<float> studentGradient, in KernelOptions options, Span<float> rowLosses, bool requireGradient)
    {
        int rows = KernelValidation.Rows(studentLogits.Length, classes, nameof(studentLogits));
        KernelValidation.SameLength(studentLogits.Length, teacherLogits.Length, nameof(teacherLogits), "studentLogits.Length");
        if (requireGradient)
        {
            KernelValidation.SameLength(studentLogits.Length, studentGradient.Length, nameof(studentGradient), "studentLogits.Length");
        }

        KernelValidation.Temperature(temperature);
        if ((uint)kind > (uint)DivergenceKind.SoftTargetCrossEntropy)
        {
            ThrowHelper.ThrowOutOfRange(nameof(kind), kind, "Unknown DivergenceKind.");
        }

        float beta = options.JsdBeta;
        KernelValidation.UnitInterval(beta, "options.JsdBeta");
        KernelValidation.RowLosses(rowLosses, rows);
        double divisor = KernelValidation.Divisor(options, rows, classes, rowLosses);
        if (rows == 0)
        {
            return 0f;
        }

        // JSD at the ends of [0, 1] is exactly forward / reverse KL (TRL does the same), and avoids log(0) mixtures.
        if (kind == DivergenceKind.JensenShannon && (beta == 0f || beta == 1f))
        {
            kind = beta == 0f ? DivergenceKind.ForwardKl : DivergenceKind.ReverseKl;
        }

        double temperatureScale = options.ScaleByTemperatureSquared ? (double)temperature * temperature : 1d;
        double lossScale = temperatureScale / divisor;
        bool checkFinite = !options.SkipFiniteCheck;
        RowLoss total;
        fixed (float* student = studentLogits)
        fixed (float* teacher = teacherLogits)
        fixed (float* gradient = studentGradient)
        {
            var job = new DivergenceJob(student, teacher, gradient, classes, kind, 1f / temperature, beta, (float)(lossScale / temperature), checkFinite);
            total = RowScheduler.Run(job, rows, classes, options.MaxDegreeOfParallelism, rowLosses, temperatureScale);
        }

        if (checkFinite && !double.IsFinite(total.Primary))
        {
            KernelValidation.ThrowIfNonFinite(studentLogits, classes, nameof(studentLogits));
            KernelValidation.ThrowIfNonFinite(teacherLogits, classes, nameof(teacherLogits));
        }

        return (float)(total.Primary * lossScale);
    }
}
