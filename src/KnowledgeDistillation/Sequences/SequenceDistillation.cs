using System.Buffers;
using System.Globalization;
using System.Numerics.Tensors;
using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Sequences;

/// <summary>
/// Token-level distillation losses over language-model outputs: <c>[batch × sequence]</c> rows of vocabulary logits, a
/// mask that lets in only the tokens to distil (not padding, usually not the prompt), forward KL, reverse KL,
/// generalised JSD(β) and soft-target cross-entropy at a temperature, against a dense teacher (local logits) or a sparse
/// top-k teacher (log-probabilities from an API or a logit cache). Each call returns the loss and writes d(loss)/d(student
/// logits), zero on masked-out rows and on student columns outside the compared vocabulary.
/// </summary>
/// <remarks>
/// <para>The work runs through the fused kernels of <see cref="DistillationPrimitives"/> on the valid rows only: runs of
/// consecutive valid rows go to the kernel in place when both vocabularies are equal; otherwise the valid rows are gathered
/// into pooled buffers and the gradient scattered back.</para>
/// <para>Normalisation: the loss is the sum over valid tokens divided by <c>normalizer</c>. Under gradient accumulation pass
/// the valid-token count of the whole accumulated batch (see <see cref="CountValidTokens"/>) to every micro-batch, so the
/// micro-batch gradients add up to the full-batch gradient exactly.</para>
/// </remarks>
public static class SequenceDistillation
{
    private const float DroppedLogValue = SequenceLossPolicy.DroppedLogValue;

    // A dropped teacher entry's value as the kernels see it: below any real value, even a mask value of −1e30, so that it
    // never takes a share when a row is normalised relative to its maximum. Which entries are dropped is also kept apart.
    private const float DroppedValue = float.MinValue;

    // log(1e-30): the floor of the student's leftover log-mass in the loss value (not in the gradient), as the kernels.
    private static readonly float LogMinimumStudentRest = (float)Math.Log(1e-30);

    /// <summary>The number of true entries of <paramref name="mask"/>.</summary>
    public static int CountValidTokens(ReadOnlySpan<bool> mask)
    {
        int count = 0;
        foreach (bool valid in mask)
        {
            count += valid ? 1 : 0;
        }

        return count;
    }

    /// <summary>
    /// Dense teacher: the divergence between softmax(teacher/T) and softmax(student/T) on every valid token, with its gradient.
    /// </summary>
    /// <param name="studentLogits">Student logits, <c>[tokens × studentVocabulary]</c> (tokens = batch × sequence).</param>
    /// <param name="studentVocabulary">Columns per student row.</param>
    /// <param name="teacherLogits">Teacher logits, <c>[tokens × teacherVocabulary]</c>.</param>
    /// <param name="teacherVocabulary">Columns per teacher row.</param>
    /// <param name="mask">One entry per token; true = distil this token.</param>
    /// <param name="options">Divergence, temperature, vocabulary handling.</param>
    /// <param name="studentGradient">Destination for d(loss)/d(studentLogits), same length as <paramref name="studentLogits"/>.</param>
    /// <param name="normalizer">The divisor: the valid tokens of the whole accumulated batch; null means the valid tokens of this call.</param>
    /// <param name="mapping">Teacher → student token ids when the tokenizers differ; null when they are the same.</param>
    /// <returns>The loss, the valid-token count and the normalizer used.</returns>
    public static SequenceLossValue DenseWithGradient(
        ReadOnlySpan<float> studentLogits, int studentVocabulary, ReadOnlySpan<float> teacherLogits, int teacherVocabulary,
        ReadOnlySpan<bool> mask, SequenceLossOptions options, Span<float> studentGradient, float? normalizer = null, TokenMapping? mapping = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int tokens = mask.Length;
        CheckShape(studentLogits.Length, tokens, studentVocabulary, nameof(studentLogits), nameof(studentVocabulary));
        CheckShape(teacherLogits.Length, tokens, teacherVocabulary, nameof(teacherLogits), nameof(teacherVocabulary));
        if (studentGradient.Length != studentLogits.Length)
        {
            throw new ArgumentException(Format($"studentGradient has {studentGradient.Length} elements; it must match studentLogits ({studentLogits.Length})."), nameof(studentGradient));
        }

        int vocabulary = SequenceLossPolicy.ComparedVocabulary(studentVocabulary, teacherVocabulary, options, mapping);
        int valid = CountValidTokens(mask);
        float divisor = SequenceLossPolicy.Divisor(normalizer, valid);
        studentGradient.Clear();
        if (valid == 0)
        {
            return new SequenceLossValue(0f, 0, divisor);
        }

        KernelOptions kernel = KernelOptionsFor(options, divisor);
        float temperature = options.Temperature;
        double total = 0;
        if (mapping is null && studentVocabulary == vocabulary && teacherVocabulary == vocabulary)
        {
            // Same layout on both sides: runs of valid rows go to the kernel in place, no copy.
            for (int start = 0; start < tokens;)
            {
                if (!mask[start])
                {
                    start++;
                    continue;
                }

                int end = start;
                while (end < tokens && mask[end])
                {
                    end++;
                }

                int offset = start * vocabulary;
                int length = (end - start) * vocabulary;
                total += DistillationPrimitives.DivergenceWithGradient(
                    studentLogits.Slice(offset, length), teacherLogits.Slice(offset, length), vocabulary, temperature, options.Kind,
                    studentGradient.Slice(offset, length), kernel);
                start = end;
            }

            return new SequenceLossValue((float)total, valid, divisor);
        }

        float[] student = ArrayPool<float>.Shared.Rent(valid * vocabulary);
        float[] teacher = ArrayPool<float>.Shared.Rent(valid * vocabulary);
        float[] gradient = ArrayPool<float>.Shared.Rent(valid * vocabulary);
        float[]? scratch = mapping is null ? null : ArrayPool<float>.Shared.Rent(teacherVocabulary);
        try
        {
            int row = 0;
            for (int token = 0; token < tokens; token++)
            {
                if (!mask[token])
                {
                    continue;
                }

                studentLogits.Slice(token * studentVocabulary, vocabulary).CopyTo(student.AsSpan(row * vocabulary, vocabulary));
                ReadOnlySpan<float> teacherRow = teacherLogits.Slice(token * teacherVocabulary, teacherVocabulary);
                Span<float> teacherTarget = teacher.AsSpan(row * vocabulary, vocabulary);
                if (mapping is null)
                {
                    CheckExtraMass(teacherRow, vocabulary, options.ExtraMassTolerance, token);
                    teacherRow[..vocabulary].CopyTo(teacherTarget);
                }
                else
                {
                    MapTeacherRow(teacherRow, mapping, temperature, scratch!, teacherTarget);
                }

                row++;
            }

            total = DistillationPrimitives.DivergenceWithGradient(
                student.AsSpan(0, valid * vocabulary), teacher.AsSpan(0, valid * vocabulary), vocabulary, temperature, options.Kind,
                gradient.AsSpan(0, valid * vocabulary), kernel);
            Scatter(gradient, mask, vocabulary, studentVocabulary, studentGradient);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(student);
            ArrayPool<float>.Shared.Return(teacher);
            ArrayPool<float>.Shared.Return(gradient);
            if (scratch is not null)
            {
                ArrayPool<float>.Shared.Return(scratch);
            }
        }

        return new SequenceLossValue((float)total, valid, divisor);
    }

    /// <summary>
    /// Sparse top-k teacher: the divergence between the teacher's k entries per token (plus, with
    /// <see cref="TopKMassTreatment.ExtraBucket"/>, its leftover mass) and the student's full-vocabulary distribution, with
    /// its gradient.
    /// </summary>
    /// <remarks>
    /// <para>Forward KL and soft-target CE run through <see cref="DistillationPrimitives.SparseTopKWithGradient"/>: the student
    /// side is the full-vocabulary log-softmax(s/T) read at the teacher's indices.</para>
    /// <para>Reverse KL and JSD need the student as a distribution over the same support as the teacher: with
    /// <see cref="TopKMassTreatment.ExtraBucket"/> that is the student's k probabilities plus its exact mass outside the
    /// indices (a (k+1)-bucket distribution, the same as forward KL's); with <see cref="TopKMassTreatment.Renormalize"/> the
    /// student's probabilities renormalised over the k indices. Teacher log-probabilities are used as given (re-temper them
    /// with <see cref="DistillationPrimitives.RetemperLogProbabilities"/> when they were produced at another temperature).</para>
    /// </remarks>
    /// <param name="studentLogits">Student logits, <c>[tokens × studentVocabulary]</c>.</param>
    /// <param name="studentVocabulary">Columns per student row.</param>
    /// <param name="teacherIndices">Teacher token ids, <c>[tokens × k]</c>.</param>
    /// <param name="teacherValues">Teacher log-probabilities (or logits), <c>[tokens × k]</c>.</param>
    /// <param name="k">Entries per token.</param>
    /// <param name="valueKind">What <paramref name="teacherValues"/> hold.</param>
    /// <param name="mask">One entry per token; true = distil this token.</param>
    /// <param name="options">Divergence, temperature, vocabulary handling, leftover-mass treatment.</param>
    /// <param name="studentGradient">Destination for d(loss)/d(studentLogits), same length as <paramref name="studentLogits"/>.</param>
    /// <param name="normalizer">The divisor: the valid tokens of the whole accumulated batch; null means the valid tokens of this call.</param>
    /// <param name="mapping">Teacher → student token ids when the tokenizers differ; null when they are the same.</param>
    /// <returns>The loss, the valid-token count and the normalizer used.</returns>
    public static SequenceLossValue SparseWithGradient(
        ReadOnlySpan<float> studentLogits, int studentVocabulary, ReadOnlySpan<int> teacherIndices, ReadOnlySpan<float> teacherValues, int k,
        TopKValueKind valueKind, ReadOnlySpan<bool> mask, SequenceLossOptions options, Span<float> studentGradient,
        float? normalizer = null, TokenMapping? mapping = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int tokens = mask.Length;
        CheckShape(studentLogits.Length, tokens, studentVocabulary, nameof(studentLogits), nameof(studentVocabulary));
        if (k < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, "k must be ≥ 1.");
        }

        CheckShape(teacherIndices.Length, tokens, k, nameof(teacherIndices), nameof(k));
        CheckShape(teacherValues.Length, tokens, k, nameof(teacherValues), nameof(k));
        if (studentGradient.Length != studentLogits.Length)
        {
            throw new ArgumentException(Format($"studentGradient has {studentGradient.Length} elements; it must match studentLogits ({studentLogits.Length})."), nameof(studentGradient));
        }

        if ((uint)valueKind > (uint)TopKValueKind.LogProbabilities)
        {
            throw new ArgumentOutOfRangeException(nameof(valueKind), valueKind, "valueKind must be Logits or LogProbabilities.");
        }

        bool forward = SequenceLossPolicy.IsForward(options);
        TopKMassTreatment treatment = SequenceLossPolicy.Treatment(options, valueKind);

        int vocabulary = mapping?.StudentVocabularySize ?? options.VocabularySize ?? studentVocabulary;
        if (vocabulary > studentVocabulary)
        {
            throw new ArgumentOutOfRangeException(nameof(options), vocabulary, Format($"The compared vocabulary ({vocabulary}) is larger than the student's ({studentVocabulary}); set SequenceLossOptions.VocabularySize to at most {studentVocabulary}."));
        }

        int valid = CountValidTokens(mask);
        float divisor = SequenceLossPolicy.Divisor(normalizer, valid);
        studentGradient.Clear();
        if (valid == 0)
        {
            return new SequenceLossValue(0f, 0, divisor);
        }

        float[] student = ArrayPool<float>.Shared.Rent(valid * vocabulary);
        float[] gradient = ArrayPool<float>.Shared.Rent(valid * vocabulary);
        int[] indices = ArrayPool<int>.Shared.Rent(valid * k);
        float[] values = ArrayPool<float>.Shared.Rent(valid * k);
        bool[] kept = ArrayPool<bool>.Shared.Rent(valid * k);
        try
        {
            int row = 0;
            for (int token = 0; token < tokens; token++)
            {
                if (!mask[token])
                {
                    continue;
                }

                studentLogits.Slice(token * studentVocabulary, vocabulary).CopyTo(student.AsSpan(row * vocabulary, vocabulary));
                GatherTeacherRow(teacherIndices.Slice(token * k, k), teacherValues.Slice(token * k, k), valueKind, vocabulary, mapping, options, token,
                    indices.AsSpan(row * k, k), values.AsSpan(row * k, k), kept.AsSpan(row * k, k));
                row++;
            }

            Span<float> s = student.AsSpan(0, valid * vocabulary);
            Span<float> g = gradient.AsSpan(0, valid * vocabulary);
            float loss = forward
                ? DistillationPrimitives.SparseTopKWithGradient(
                    s, indices.AsSpan(0, valid * k), values.AsSpan(0, valid * k), vocabulary, k, options.Temperature, valueKind, treatment,
                    options.Kind == DivergenceKind.SoftTargetCrossEntropy, g, KernelOptionsFor(options, divisor))
                : SparseBucketDivergence(s, indices.AsSpan(0, valid * k), values.AsSpan(0, valid * k), kept.AsSpan(0, valid * k), valid, vocabulary, k, valueKind, treatment, options, divisor, g);
            Scatter(gradient, mask, vocabulary, studentVocabulary, studentGradient);
            return new SequenceLossValue(loss, valid, divisor);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(student);
            ArrayPool<float>.Shared.Return(gradient);
            ArrayPool<int>.Shared.Return(indices);
            ArrayPool<float>.Shared.Return(values);
            ArrayPool<bool>.Shared.Return(kept);
        }
    }

    // Reverse KL / JSD against a sparse teacher: build per row the student's and the teacher's distributions over the
    // k indices (+ the leftover bucket), run the dense kernel on those [rows × (k+1)] log-probabilities at T = 1, and map
    // the gradient back: d/ds_j = (Σ_{i: idx_i = j} g_i + [j ∉ idx] g_bucket · w_j) / T, w_j = the student's share of the
    // bucket. The −p_j terms of d(log-softmax) cancel because the kernel's gradient of each row sums to zero.
    // Every log-probability is computed relative to its row maximum (student rows at −1e4 or −1e30, teacher rows at mask
    // values), the bucket's from the student's exponentials outside the indices relative to their own maximum; its value
    // is floored at log 1e-30 and its gradient is that of the unfloored mass (a straight-through clamp), as the kernels.
    private static float SparseBucketDivergence(
        Span<float> student, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, ReadOnlySpan<bool> kept, int rows, int vocabulary, int k,
        TopKValueKind valueKind, TopKMassTreatment treatment, SequenceLossOptions options, float divisor, Span<float> gradient)
    {
        bool bucket = treatment == TopKMassTreatment.ExtraBucket;
        int width = bucket ? k + 1 : k;
        float temperature = options.Temperature;
        float inverseT = 1f / temperature;
        float[] u = ArrayPool<float>.Shared.Rent(rows * width);
        float[] t = ArrayPool<float>.Shared.Rent(rows * width);
        float[] gu = ArrayPool<float>.Shared.Rent(rows * width);
        float[] rest = ArrayPool<float>.Shared.Rent(vocabulary);
        float[] restMaxima = ArrayPool<float>.Shared.Rent(rows);
        double[] restSums = ArrayPool<double>.Shared.Rent(rows);
        try
        {
            for (int r = 0; r < rows; r++)
            {
                Span<float> x = student.Slice(r * vocabulary, vocabulary);
                ReadOnlySpan<int> idx = indices.Slice(r * k, k);
                ReadOnlySpan<float> val = values.Slice(r * k, k);
                ReadOnlySpan<bool> keep = kept.Slice(r * k, k);
                Span<float> ur = u.AsSpan(r * width, width);
                Span<float> tr = t.AsSpan(r * width, width);
                float max = TensorPrimitives.Max(x);
                double logStudentSum = Math.Log(DivergenceRows.SumExp(x, inverseT, max));
                for (int i = 0; i < k; i++)
                {
                    // Dropped teacher entries (outside the vocabulary or unmapped) are zero on both sides.
                    ur[i] = keep[i] ? (float)((((double)x[idx[i]] - max) * inverseT) - logStudentSum) : DroppedLogValue;
                }

                // The teacher: log-softmax(values / T) over its kept entries, or log-probabilities as given.
                double teacherMax = double.NegativeInfinity;
                for (int i = 0; i < k; i++)
                {
                    teacherMax = keep[i] ? Math.Max(teacherMax, valueKind == TopKValueKind.Logits ? (double)val[i] * inverseT : val[i]) : teacherMax;
                }

                double teacherSum = 0;
                for (int i = 0; i < k; i++)
                {
                    teacherSum += keep[i] ? Math.Exp((valueKind == TopKValueKind.Logits ? (double)val[i] * inverseT : val[i]) - teacherMax) : 0;
                }

                double teacherLogSum = Math.Log(teacherSum);
                for (int i = 0; i < k; i++)
                {
                    tr[i] = !keep[i] ? DroppedLogValue
                        : valueKind == TopKValueKind.Logits ? (float)((((double)val[i] * inverseT) - teacherMax) - teacherLogSum)
                        : val[i];
                }

                if (bucket)
                {
                    // The student's mass outside the indices, summed exactly (not 1 − Σ, which cancels when the top-k holds nearly all).
                    Span<float> restRow = rest.AsSpan(0, vocabulary);
                    x.CopyTo(restRow);
                    for (int i = 0; i < k; i++)
                    {
                        if (keep[i])
                        {
                            restRow[idx[i]] = float.NegativeInfinity;
                        }
                    }

                    float restMax = TensorPrimitives.Max(restRow);
                    restMaxima[r] = restMax;
                    double logRest = double.NegativeInfinity;
                    if (!float.IsNegativeInfinity(restMax))
                    {
                        TensorPrimitives.Subtract(restRow, restMax, restRow);
                        TensorPrimitives.Multiply(restRow, inverseT, restRow);
                        TensorPrimitives.Exp(restRow, restRow);
                        restSums[r] = TensorPrimitives.Sum(restRow);
                        logRest = (((double)restMax - max) * inverseT) + Math.Log(restSums[r]) - logStudentSum;
                    }

                    ur[k] = (float)Math.Max(logRest, LogMinimumStudentRest);
                    // The teacher's leftover 1 − Σp as −expm1(log Σp) (no cancellation when the top-k holds nearly all).
                    double leftover = Math.Max(0, -double.ExpM1(Math.Min(teacherMax + teacherLogSum, 0)));
                    tr[k] = (float)Math.Log(Math.Max(leftover, 1e-30));
                }
            }

            // T² and the normalizer go into the kernel's divisor; the kernel runs at T = 1 on log-probabilities.
            double scale = options.ScaleByTemperatureSquared ? (double)temperature * temperature : 1d;
            var kernel = new KernelOptions
            {
                Reduction = LossReduction.Sum,
                Normalizer = (float)(divisor / scale),
                JsdBeta = options.JsdBeta,
                MaxDegreeOfParallelism = options.MaxDegreeOfParallelism,
            };
            float loss = DistillationPrimitives.DivergenceWithGradient(
                u.AsSpan(0, rows * width), t.AsSpan(0, rows * width), width, 1f, options.Kind, gu.AsSpan(0, rows * width), kernel);

            for (int r = 0; r < rows; r++)
            {
                Span<float> gr = gradient.Slice(r * vocabulary, vocabulary);
                ReadOnlySpan<float> gur = gu.AsSpan(r * width, width);
                ReadOnlySpan<int> idx = indices.Slice(r * k, k);
                ReadOnlySpan<bool> keep = kept.Slice(r * k, k);
                if (bucket && !float.IsNegativeInfinity(restMaxima[r]))
                {
                    // Non-index entries: g_bucket · w_j / T with w_j = e^{(x_j − restMax)/T} / Σ, the student's share of its
                    // leftover (exact even when the leftover underflows); the index entries are overwritten below.
                    ReadOnlySpan<float> x = student.Slice(r * vocabulary, vocabulary);
                    TensorPrimitives.Subtract(x, restMaxima[r], gr);
                    TensorPrimitives.Multiply(gr, inverseT, gr);
                    TensorPrimitives.Exp(gr, gr);
                    TensorPrimitives.Multiply(gr, (float)(gur[k] * inverseT / restSums[r]), gr);
                    for (int i = 0; i < k; i++)
                    {
                        if (keep[i])
                        {
                            gr[idx[i]] = 0f;
                        }
                    }
                }
                else
                {
                    gr.Clear();
                }

                for (int i = 0; i < k; i++)
                {
                    if (keep[i])
                    {
                        gr[idx[i]] += gur[i] * inverseT;
                    }
                }
            }

            return loss;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(u);
            ArrayPool<float>.Shared.Return(t);
            ArrayPool<float>.Shared.Return(gu);
            ArrayPool<float>.Shared.Return(rest);
            ArrayPool<float>.Shared.Return(restMaxima);
            ArrayPool<double>.Shared.Return(restSums);
        }
    }

    private static void GatherTeacherRow(
        ReadOnlySpan<int> sourceIndices, ReadOnlySpan<float> sourceValues, TopKValueKind valueKind, int vocabulary, TokenMapping? mapping,
        SequenceLossOptions options, int token, Span<int> indices, Span<float> values, Span<bool> kept)
    {
        int k = sourceIndices.Length;
        double droppedMass = 0;
        double totalMass = 0;
        double max = double.NegativeInfinity;
        if (valueKind == TopKValueKind.Logits)
        {
            foreach (float v in sourceValues)
            {
                max = Math.Max(max, v);
            }
        }

        for (int i = 0; i < k; i++)
        {
            int id = sourceIndices[i];
            if (id < 0 || (mapping is not null && id >= mapping.TeacherVocabularySize))
            {
                throw new ArgumentOutOfRangeException(nameof(sourceIndices), id, Format($"Teacher token id {id} (token {token}, entry {i}) is outside the teacher vocabulary{(mapping is null ? string.Empty : Format($" [0, {mapping.TeacherVocabularySize})"))}."));
            }

            int target = mapping is null ? id : mapping[id];
            double p = valueKind == TopKValueKind.LogProbabilities ? Math.Exp(sourceValues[i]) : Math.Exp(sourceValues[i] - max);
            totalMass += p;
            if (target < 0 || target >= vocabulary)
            {
                // Outside the compared vocabulary (padded rows) or without a student counterpart: dropped.
                droppedMass += mapping is null || target >= vocabulary ? p : 0;
                indices[i] = 0;
                values[i] = DroppedValue;
                kept[i] = false;
            }
            else
            {
                indices[i] = target;
                values[i] = sourceValues[i];
                kept[i] = true;
            }
        }

        double share = valueKind == TopKValueKind.LogProbabilities ? droppedMass : droppedMass / totalMass;
        if (share > options.ExtraMassTolerance)
        {
            throw new InvalidOperationException(SequenceLossPolicy.ExtraMassMessage(Format($"Token {token}: "), share, vocabulary, options.ExtraMassTolerance));
        }
    }

    // Teacher log-probabilities at T aggregated onto student ids (log-add-exp for many-to-one), renormalised over the
    // mapped tokens, and written ×T so that the kernel's division by T gives them back.
    private static void MapTeacherRow(ReadOnlySpan<float> teacherRow, TokenMapping mapping, float temperature, float[] scratch, Span<float> target)
    {
        int teacherVocabulary = mapping.TeacherVocabularySize;
        if (teacherRow.Length != teacherVocabulary)
        {
            throw new ArgumentException(Format($"The token mapping covers {teacherVocabulary} teacher tokens but teacher rows have {teacherRow.Length} columns; build the mapping over the teacher's full output layer."), nameof(mapping));
        }

        Span<float> logP = scratch.AsSpan(0, teacherVocabulary);
        DistillationPrimitives.LogSoftmax(teacherRow, teacherVocabulary, temperature, logP);
        target.Fill(float.NegativeInfinity);
        ReadOnlySpan<int> map = mapping.AsSpan();
        for (int i = 0; i < teacherVocabulary; i++)
        {
            int s = map[i];
            if (s >= 0)
            {
                float a = target[s];
                float b = logP[i];
                target[s] = float.IsNegativeInfinity(a) ? b : Math.Max(a, b) + MathF.Log(1f + MathF.Exp(-Math.Abs(a - b)));
            }
        }

        float min = float.PositiveInfinity;
        foreach (float v in target)
        {
            if (!float.IsNegativeInfinity(v))
            {
                min = Math.Min(min, v);
            }
        }

        // Student tokens the teacher has no counterpart for: a probability far below any mapped one (finite for the kernels).
        float floor = min - 40f;
        for (int s = 0; s < target.Length; s++)
        {
            target[s] = (float.IsNegativeInfinity(target[s]) ? floor : target[s]) * temperature;
        }
    }

    private static void CheckExtraMass(ReadOnlySpan<float> teacherRow, int vocabulary, float tolerance, int token)
    {
        if (teacherRow.Length == vocabulary)
        {
            return;
        }

        Span<float> lse = stackalloc float[2];
        DistillationPrimitives.LogSumExp(teacherRow, teacherRow.Length, 1f, lse[..1]);
        DistillationPrimitives.LogSumExp(teacherRow[vocabulary..], teacherRow.Length - vocabulary, 1f, lse[1..]);
        double mass = Math.Exp(lse[1] - lse[0]);
        if (mass > tolerance)
        {
            throw new InvalidOperationException(SequenceLossPolicy.ExtraMassMessage(Format($"Token {token}, columns [{vocabulary}, {teacherRow.Length}): "), mass, vocabulary, tolerance));
        }
    }

    private static KernelOptions KernelOptionsFor(SequenceLossOptions options, float divisor) => new()
    {
        Reduction = LossReduction.Sum,
        Normalizer = divisor,
        ScaleByTemperatureSquared = options.ScaleByTemperatureSquared,
        JsdBeta = options.JsdBeta,
        MaxDegreeOfParallelism = options.MaxDegreeOfParallelism,
    };

    private static void Scatter(float[] compact, ReadOnlySpan<bool> mask, int vocabulary, int studentVocabulary, Span<float> destination)
    {
        int row = 0;
        for (int token = 0; token < mask.Length; token++)
        {
            if (mask[token])
            {
                compact.AsSpan(row * vocabulary, vocabulary).CopyTo(destination.Slice(token * studentVocabulary, vocabulary));
                row++;
            }
        }
    }

    private static void CheckShape(int length, int rows, int columns, string paramName, string columnsName)
    {
        if (columns < 1)
        {
            throw new ArgumentOutOfRangeException(columnsName, columns, $"{columnsName} must be ≥ 1.");
        }

        if ((long)rows * columns != length)
        {
            throw new ArgumentException(Format($"{paramName} has {length} elements; expected mask.Length × {columnsName} = {rows} × {columns} = {(long)rows * columns}."), paramName);
        }
    }

    private static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
