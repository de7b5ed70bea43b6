namespace KnowledgeDistillation.Kernels;

public static partial class DistillationPrimitives
{
    /// <summary>
    /// Decoupled KD (Zhao et al. 2022) with its fused gradient: per row α·TCKD + β·NCKD, always multiplied by T² as in the
    /// reference implementation, then reduced as <paramref name="options"/> says (BatchMean by default, like the paper's code).
    /// TCKD is the KL of the binary (target, non-target) split; NCKD the KL of the softmax over non-target classes.
    /// </summary>
    /// <param name="studentLogits">Student logits, [rows × classes] with rows = labels.Length.</param>
    /// <param name="teacherLogits">Teacher logits, same shape.</param>
    /// <param name="labels">Target class per row, in [0, classes).</param>
    /// <param name="classes">Classes per row (≥ 1).</param>
    /// <param name="temperature">Temperature T, finite and &gt; 0.</param>
    /// <param name="alpha">Weight of TCKD, finite and ≥ 0 (the paper uses 1).</param>
    /// <param name="beta">Weight of NCKD, finite and ≥ 0 (the paper uses 1 to 8).</param>
    /// <param name="studentGradient">Destination for d(loss)/d(studentLogits), same length as the logits, or empty for the loss only.</param>
    /// <param name="options">Reduction, normalizer, finite check and threading (ScaleByTemperatureSquared and JsdBeta are not used).</param>
    /// <param name="rowLosses">Optional per-row losses (T²-scaled, not normalised).</param>
    /// <returns>The reduced loss.</returns>
    public static unsafe float DecoupledKdWithGradient(
        ReadOnlySpan<float> studentLogits, ReadOnlySpan<float> teacherLogits, ReadOnlySpan<int> labels, int classes,
        float temperature, float alpha, float beta, Span<float> studentGradient, KernelOptions options = default, Span<float> rowLosses = default)
    {
        int rows = KernelValidation.Rows(studentLogits.Length, classes, nameof(studentLogits));
        KernelValidation.SameLength(rows, labels.Length, nameof(labels), "rows = studentLogits.Length / classes");
        KernelValidation.SameLength(studentLogits.Length, teacherLogits.Length, nameof(teacherLogits), "studentLogits.Length");
        if (!studentGradient.IsEmpty)
        {
            KernelValidation.SameLength(studentLogits.Length, studentGradient.Length, nameof(studentGradient), "studentLogits.Length");
        }

        KernelValidation.Temperature(temperature);
        KernelValidation.NonNegativeFinite(alpha, nameof(alpha));
        KernelValidation.NonNegativeFinite(beta, nameof(beta));
        KernelValidation.Labels(labels, classes, nameof(labels));
        KernelValidation.RowLosses(rowLosses, rows);
        double divisor = KernelValidation.Divisor(options, rows, classes, rowLosses);
        if (rows == 0)
        {
            return 0f;
        }

        double squaredTemperature = (double)temperature * temperature;
        bool checkFinite = !options.SkipFiniteCheck;
        RowLoss total;
        fixed (float* student = studentLogits)
        fixed (float* teacher = teacherLogits)
        fixed (int* labelPointer = labels)
        fixed (float* gradient = studentGradient)
        {
            var job = new DecoupledKdJob(student, teacher, labelPointer, gradient, classes, 1f / temperature, alpha, beta, squaredTemperature / divisor / temperature, checkFinite);
            total = RowScheduler.Run(job, rows, classes, options.MaxDegreeOfParallelism, rowLosses, squaredTemperature);
        }

        if (checkFinite && !double.IsFinite(total.Primary))
        {
            KernelValidation.ThrowIfNonFinite(studentLogits, classes, nameof(studentLogits));
            KernelValidation.ThrowIfNonFinite(teacherLogits, classes, nameof(teacherLogits));
        }

        return (float)(total.Primary * squaredTemperature / divisor);
    }
}
