namespace KnowledgeDistillation.Kernels;

public static partial class DistillationPrimitives
{
    /// <summary>
    /// The Hinton objective with its fused gradient. Total = alpha · Distillation + (1 − alpha) · HardLabel, where
    /// Distillation = T² · Σ_rows KL(softmax(t/T) ‖ softmax(s/T)) / normalizer and
    /// HardLabel = Σ_rows CE(labels[r], softmax(s)) / normalizer (temperature 1).
    /// Writes d(Total)/d(studentLogits) into <paramref name="studentGradient"/>.
    /// </summary>
    /// <param name="studentLogits">Student logits, [rows × classes] with rows = labels.Length.</param>
    /// <param name="teacherLogits">Teacher logits, same shape.</param>
    /// <param name="labels">Hard label per row, in [0, classes).</param>
    /// <param name="classes">Classes per row (≥ 1).</param>
    /// <param name="temperature">Distillation temperature T, finite and &gt; 0.</param>
    /// <param name="alpha">Weight of the distillation term, in [0, 1].</param>
    /// <param name="studentGradient">Destination for d(Total)/d(studentLogits), same length as <paramref name="studentLogits"/>.</param>
    /// <param name="options">
    /// <see cref="KernelOptions.Normalizer"/>: divisor of both sums (default: the rows, PyTorch <c>batchmean</c>; under gradient
    /// accumulation pass the rows or valid tokens of the whole accumulated batch); <see cref="KernelOptions.Reduction"/> when no
    /// normalizer is given; <see cref="KernelOptions.SkipFiniteCheck"/> skips the fused, nearly free check that throws an
    /// <see cref="ArgumentException"/> naming the first NaN/±Inf logit; <see cref="KernelOptions.MaxDegreeOfParallelism"/>
    /// (results are bit-identical for every value). The distillation term is always scaled by T² (Hinton et al.).
    /// </param>
    /// <returns>The total and its two parts.</returns>
    public static unsafe HintonLossValue HintonLossWithGradient(
        ReadOnlySpan<float> studentLogits, ReadOnlySpan<float> teacherLogits, ReadOnlySpan<int> labels,
        int classes, float temperature, float alpha, Span<float> studentGradient,
        KernelOptions options = default)
    {
        int rows = KernelValidation.Rows(studentLogits.Length, classes, nameof(studentLogits));
        KernelValidation.SameLength(rows, labels.Length, nameof(labels), "rows = studentLogits.Length / classes");
        KernelValidation.SameLength(studentLogits.Length, teacherLogits.Length, nameof(teacherLogits), "studentLogits.Length");
        KernelValidation.SameLength(studentLogits.Length, studentGradient.Length, nameof(studentGradient), "studentLogits.Length");
        KernelValidation.Temperature(temperature);
        KernelValidation.UnitInterval(alpha, nameof(alpha));
        KernelValidation.Labels(labels, classes, nameof(labels));
        double divisor = KernelValidation.Divisor(options, rows, classes, default);
        bool checkFinite = !options.SkipFiniteCheck;
        if (rows == 0)
        {
            return default;
        }

        double squaredTemperature = (double)temperature * temperature;
        RowLoss total;
        fixed (float* student = studentLogits)
        fixed (float* teacher = teacherLogits)
        fixed (int* labelPointer = labels)
        fixed (float* gradient = studentGradient)
        {
            // d(α T² KL/N)/ds = α T (p_s^T − p_t^T) / N; d((1−α) CE/N)/ds = (1−α)(p_s − onehot)/N.
            var job = new HintonJob(student, teacher, labelPointer, gradient, classes, temperature, alpha * temperature / divisor, (1 - alpha) / divisor, checkFinite);
            total = RowScheduler.Run(job, rows, classes, options.MaxDegreeOfParallelism, default, 1d);
        }

        if (checkFinite && !double.IsFinite(total.Primary + total.Secondary))
        {
            KernelValidation.ThrowIfNonFinite(studentLogits, classes, nameof(studentLogits));
            KernelValidation.ThrowIfNonFinite(teacherLogits, classes, nameof(teacherLogits));
        }

        double distillation = total.Primary * squaredTemperature / divisor;
        double hardLabel = total.Secondary / divisor;
        return new HintonLossValue((float)((alpha * distillation) + ((1 - alpha) * hardLabel)), (float)distillation, (float)hardLabel);
    }
}
