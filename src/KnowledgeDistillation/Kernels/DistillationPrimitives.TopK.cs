using System.Globalization;

namespace KnowledgeDistillation.Kernels;

public static partial class DistillationPrimitives
{
    /// <summary>
    /// Extracts the k largest logits of each row, sorted by descending value (ties: lower index first), as the sparse
    /// teacher format of logit caches. Whole vectors that cannot enter the current top-k are skipped with one compare.
    /// </summary>
    /// <param name="logits">Dense logits, [rows × classes].</param>
    /// <param name="classes">Classes per row (≥ 1).</param>
    /// <param name="k">Entries per row, in [1, classes].</param>
    /// <param name="indices">Destination for the class indices, [rows × k].</param>
    /// <param name="values">Destination for the logits, [rows × k].</param>
    /// <param name="options">Finite check and threading (other members unused).</param>
    public static unsafe void TopK(ReadOnlySpan<float> logits, int classes, int k, Span<int> indices, Span<float> values, KernelOptions options = default)
    {
        int rows = KernelValidation.Rows(logits.Length, classes, nameof(logits));
        ValidateK(k, classes);
        KernelValidation.SameLength(rows * k, indices.Length, nameof(indices), "rows × k");
        KernelValidation.SameLength(rows * k, values.Length, nameof(values), "rows × k");
        if (!options.SkipFiniteCheck)
        {
            KernelValidation.ThrowIfNonFinite(logits, classes, nameof(logits));
        }

        fixed (float* source = logits)
        fixed (int* indexPointer = indices)
        fixed (float* valuePointer = values)
        {
            RowScheduler.Run(new TopKJob(source, indexPointer, valuePointer, classes, k), rows, classes, options.MaxDegreeOfParallelism, default, 1d);
        }
    }

    /// <summary>
    /// Re-applies a temperature to stored top-k log-probabilities: p^(T_gen / T_distill), renormalised over the k entries,
    /// written as log-probabilities. Use it when a logit cache was generated at T_gen and distillation runs at T_distill;
    /// the result has no leftover mass (the mass outside the top-k cannot be re-tempered without the full distribution).
    /// </summary>
    /// <param name="logProbabilities">Stored log-probabilities, [rows × k].</param>
    /// <param name="k">Entries per row (≥ 1).</param>
    /// <param name="generationTemperature">The temperature the log-probabilities were produced at, finite and &gt; 0.</param>
    /// <param name="distillationTemperature">The temperature wanted, finite and &gt; 0.</param>
    /// <param name="destination">Output log-probabilities, [rows × k]; may be the same memory.</param>
    public static void RetemperLogProbabilities(ReadOnlySpan<float> logProbabilities, int k, float generationTemperature, float distillationTemperature, Span<float> destination)
    {
        int rows = KernelValidation.Rows(logProbabilities.Length, k, nameof(logProbabilities));
        KernelValidation.SameLength(logProbabilities.Length, destination.Length, nameof(destination), "logProbabilities.Length");
        KernelValidation.Temperature(generationTemperature);
        KernelValidation.Temperature(distillationTemperature);
        double ratio = (double)generationTemperature / distillationTemperature;
        for (int row = 0; row < rows; row++)
        {
            ReadOnlySpan<float> source = logProbabilities.Slice(row * k, k);
            Span<float> target = destination.Slice(row * k, k);
            double max = double.NegativeInfinity;
            foreach (float value in source)
            {
                max = Math.Max(max, value * ratio);
            }

            double sum = 0;
            foreach (float value in source)
            {
                sum += Math.Exp((value * ratio) - max);
            }

            // Relative to the maximum: max + log Σ in one number would absorb log Σ next to a mask value (−1e30).
            double logSum = Math.Log(sum);
            for (int i = 0; i < k; i++)
            {
                target[i] = (float)(((source[i] * ratio) - max) - logSum);
            }
        }
    }

    private static void ValidateK(int k, int classes)
    {
        if (k < 1 || k > classes)
        {
            ThrowHelper.ThrowOutOfRange(nameof(k), k, string.Create(CultureInfo.InvariantCulture, $"k must be in [1, classes] = [1, {classes}], was {k}."));
        }
    }
}
