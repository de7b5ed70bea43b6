using System.Globalization;

namespace KnowledgeDistillation.Kernels;

public static partial class DistillationPrimitives
{
    /// <summary>
    /// Fused loss and gradient against a sparse top-k teacher (API teachers, logit caches). The student side is the
    /// full-vocabulary log-softmax(s/T) read at the teacher's indices; the teacher mass outside the k entries is
    /// renormalised away or kept as a (k+1)-th bucket (see <see cref="TopKMassTreatment"/>). Writes d(loss)/d(studentLogits).
    /// </summary>
    /// <param name="studentLogits">Student logits, [rows × classes].</param>
    /// <param name="teacherIndices">Teacher class indices, [rows × k], each in [0, classes).</param>
    /// <param name="teacherValues">Teacher logits or log-probabilities, [rows × k].</param>
    /// <param name="classes">Classes per row (≥ 1).</param>
    /// <param name="k">Teacher entries per row, in [1, classes].</param>
    /// <param name="temperature">Temperature T, finite and &gt; 0 (applied to the student, and to teacher logits).</param>
    /// <param name="valueKind">Whether <paramref name="teacherValues"/> are logits or log-probabilities.</param>
    /// <param name="treatment">What to do with the teacher mass outside the top-k.</param>
    /// <param name="crossEntropy">True for −Σ p_t log p_s (soft CE), false for KL; the gradients are equal.</param>
    /// <param name="studentGradient">Destination for d(loss)/d(studentLogits), same length as <paramref name="studentLogits"/>.</param>
    /// <param name="options">Reduction, normalizer, T² scaling, finite check and threading.</param>
    /// <param name="rowLosses">Optional per-row losses (T²-scaled when asked, not normalised).</param>
    /// <returns>The reduced loss.</returns>
    public static unsafe float SparseTopKWithGradient(
        ReadOnlySpan<float> studentLogits, ReadOnlySpan<int> teacherIndices, ReadOnlySpan<float> teacherValues, int classes, int k,
        float temperature, TopKValueKind valueKind, TopKMassTreatment treatment, bool crossEntropy, Span<float> studentGradient,
        KernelOptions options = default, Span<float> rowLosses = default)
    {
        int rows = KernelValidation.Rows(studentLogits.Length, classes, nameof(studentLogits));
        ValidateK(k, classes);
        KernelValidation.SameLength(rows * k, teacherIndices.Length, nameof(teacherIndices), "rows × k");
        KernelValidation.SameLength(rows * k, teacherValues.Length, nameof(teacherValues), "rows × k");
        KernelValidation.SameLength(studentLogits.Length, studentGradient.Length, nameof(studentGradient), "studentLogits.Length");
        KernelValidation.Temperature(temperature);
        if ((uint)valueKind > (uint)TopKValueKind.LogProbabilities)
        {
            ThrowHelper.ThrowOutOfRange(nameof(valueKind), valueKind, "Unknown TopKValueKind.");
        }

        if ((uint)treatment > (uint)TopKMassTreatment.ExtraBucket)
        {
            ThrowHelper.ThrowOutOfRange(nameof(treatment), treatment, "Unknown TopKMassTreatment.");
        }

        for (int i = 0; i < teacherIndices.Length; i++)
        {
            if ((uint)teacherIndices[i] >= (uint)classes)
            {
                ThrowHelper.ThrowOutOfRange(nameof(teacherIndices), teacherIndices[i], string.Create(CultureInfo.InvariantCulture, $"teacherIndices[{i}] (row {i / k}) = {teacherIndices[i]} is outside [0, classes) = [0, {classes})."));
            }
        }

        KernelValidation.RowLosses(rowLosses, rows);
        double divisor = KernelValidation.Divisor(options, rows, classes, rowLosses);
        if (rows == 0)
        {
            return 0f;
        }

        double temperatureScale = options.ScaleByTemperatureSquared ? (double)temperature * temperature : 1d;
        double lossScale = temperatureScale / divisor;
        bool checkFinite = !options.SkipFiniteCheck;
        RowLoss total;
        fixed (float* student = studentLogits)
        fixed (int* indices = teacherIndices)
        fixed (float* values = teacherValues)
        fixed (float* gradient = studentGradient)
        {
            var job = new SparseTopKJob(student, indices, values, gradient, classes, k, 1f / temperature, valueKind, treatment, crossEntropy, lossScale / temperature, checkFinite);
            total = RowScheduler.Run(job, rows, classes, options.MaxDegreeOfParallelism, rowLosses, temperatureScale);
        }

        if (checkFinite && !double.IsFinite(total.Primary))
        {
            KernelValidation.ThrowIfNonFinite(studentLogits, classes, nameof(studentLogits));
            KernelValidation.ThrowIfNonFinite(teacherValues, k, nameof(teacherValues));
        }

        return (float)(total.Primary * lossScale);
    }
}
