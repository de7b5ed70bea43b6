using System.Buffers;
using System.Numerics.Tensors;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Schedules;

namespace KnowledgeDistillation.Losses;

/// <summary>
/// Hinton distillation against a sparse top-k teacher (a top-k teacher cache):
/// <c>α·T²·KL(p̂_t ‖ p_s) + (1−α)·CE(y, softmax(s))</c>, where the student side is the full-vocabulary
/// <c>log softmax(s/T)</c> read at the teacher's k indices and p̂_t is the teacher restricted to its k entries.
/// Reported as <see cref="HintonDistillationLoss"/> is: terms <c>kd</c>, <c>ce</c>; parameters <c>alpha</c>, <c>temperature</c>.
/// </summary>
/// <remarks>
/// <para>The approximation, per <see cref="TopKMassTreatment"/> (when none is given, <see cref="TopKMassPolicy"/> chooses:
/// the extra bucket for log-probabilities, renormalising for logits):</para>
/// <list type="bullet">
/// <item><see cref="TopKMassTreatment.Renormalize"/>: p̂_t = softmax over the k stored values at T (stored logits),
/// or the stored log-probabilities re-tempered to T and renormalised. With k = classes and stored logits this is exactly
/// <see cref="HintonDistillationLoss"/>.</item>
/// <item><see cref="TopKMassTreatment.ExtraBucket"/>: the teacher mass outside the k entries (1 − Σp) is kept as a
/// (k+1)-th bucket matched by the student's mass outside the k indices. It needs stored log-probabilities and is exact
/// only at T = 1 (mass outside the top-k cannot be re-tempered); at T ≠ 1 the loss falls back to renormalising.</item>
/// </list>
/// <para>Given dense teacher logits (a live teacher) instead, it extracts the top <see cref="TopK"/> logits itself with
/// <see cref="DistillationPrimitives.TopK"/>, so live and cached runs optimise the same objective.</para>
/// </remarks>
public sealed class TopKHintonDistillationLoss : IDistillationLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="alpha">The weight of the distillation term, in [0, 1] at every step.</param>
    /// <param name="temperature">The temperature, &gt; 0 at every step.</param>
    /// <param name="topK">Entries per row taken from dense teacher logits (sparse targets bring their own k), ≥ 1.</param>
    /// <param name="treatment">What to do with the teacher mass outside the top-k; null for <see cref="TopKMassPolicy"/>'s rule.</param>
    public TopKHintonDistillationLoss(ISchedule alpha, ISchedule temperature, int topK = 5, TopKMassTreatment? treatment = null)
    {
        Alpha = alpha ?? throw new ArgumentNullException(nameof(alpha));
        Temperature = temperature ?? throw new ArgumentNullException(nameof(temperature));
        if (topK < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(topK), topK, "topK (teacher entries per row, k) must be at least 1.");
        }
        if (treatment is { } t && !Enum.IsDefined(t))
        {
            throw new ArgumentOutOfRangeException(nameof(treatment), treatment, "Use TopKMassTreatment.Renormalize or ExtraBucket, or null for the default rule.");
        }
        TopK = topK;
        Treatment = treatment;
    }

    /// <summary>Creates the loss with constant α and T.</summary>
    public TopKHintonDistillationLoss(float alpha, float temperature, int topK = 5, TopKMassTreatment? treatment = null)
        : this(Schedule.Constant(LossGuards.Alpha(alpha, nameof(alpha))), Schedule.Constant(LossGuards.Temperature(temperature, nameof(temperature))), topK, treatment)
    {
    }

    /// <summary>The α schedule.</summary>
    public ISchedule Alpha { get; }

    /// <summary>The temperature schedule.</summary>
    public ISchedule Temperature { get; }

    /// <summary>Entries per row used when the teacher gives dense logits.</summary>
    public int TopK { get; }

    /// <summary>What is done with the teacher mass outside the top-k; null for <see cref="TopKMassPolicy"/>'s rule.</summary>
    public TopKMassTreatment? Treatment { get; }

    /// <inheritdoc />
    public string Name => "hinton-topk";

    /// <inheritdoc />
    public TeacherTargetKinds AcceptedTargets => TeacherTargetKinds.DenseLogits | TeacherTargetKinds.TopK;

    /// <inheritdoc />
    public LossValue Compute(in LossInputs inputs, Span<float> studentGradient)
    {
        if (inputs.HasPartialMask)
        {
            return MaskedRows.Compute(this, inputs, studentGradient);
        }
        float alpha = LossGuards.Alpha(Alpha.ValueAt(inputs.Step, inputs.TotalSteps), "alpha schedule");
        float t = LossGuards.Temperature(Temperature.ValueAt(inputs.Step, inputs.TotalSteps), "temperature schedule");
        int rows = inputs.Rows, classes = inputs.ClassCount;
        int k;
        ReadOnlySpan<int> indices;
        ReadOnlySpan<float> values;
        TopKValueKind kind;
        int[]? rentedIndices = null;
        float[]? rentedValues = null;
        float[] scratch = ArrayPool<float>.Shared.Rent(studentGradient.Length);
        try
        {
            if (inputs.HasTopKTeacher)
            {
                k = inputs.TeacherTopK;
                indices = inputs.TeacherTopKIndices;
                values = inputs.TeacherTopKValues;
                kind = inputs.TeacherTopKValueKind;
            }
            else if (inputs.HasDenseTeacher)
            {
                LossGuards.RequireSameWidth(inputs, Name);
                k = Math.Min(TopK, classes);
                rentedIndices = ArrayPool<int>.Shared.Rent(rows * k);
                rentedValues = ArrayPool<float>.Shared.Rent(rows * k);
                DistillationPrimitives.TopK(inputs.TeacherLogits, classes, k, rentedIndices.AsSpan(0, rows * k), rentedValues.AsSpan(0, rows * k));
                indices = rentedIndices.AsSpan(0, rows * k);
                values = rentedValues.AsSpan(0, rows * k);
                kind = TopKValueKind.Logits;
            }
            else
            {
                throw new ArgumentException($"Loss '{Name}' needs teacher targets (top-k or dense logits), but none were given. Configure a teacher or a teacher cache.", nameof(inputs));
            }

            TopKMassTreatment treatment = TopKMassPolicy.Resolve(Treatment, kind);
            if (kind == TopKValueKind.LogProbabilities && t != 1f)
            {
                // Stored log-probabilities are at T = 1: re-temper them over the k entries (the leftover mass cannot be re-tempered).
                rentedValues ??= ArrayPool<float>.Shared.Rent(values.Length);
                Span<float> retempered = rentedValues.AsSpan(0, values.Length);
                DistillationPrimitives.RetemperLogProbabilities(values, k, 1f, t, retempered);
                values = retempered;
                treatment = TopKMassTreatment.Renormalize;
            }

            var options = new KernelOptions { Normalizer = inputs.Normalizer, ScaleByTemperatureSquared = true };
            float kd = DistillationPrimitives.SparseTopKWithGradient(
                inputs.StudentLogits, indices, values, classes, k, t, kind, treatment, crossEntropy: false, studentGradient, options);
            Span<float> ceGradient = scratch.AsSpan(0, studentGradient.Length);
            HintonLossValue ce = DistillationPrimitives.HintonLossWithGradient(
                inputs.StudentLogits, inputs.StudentLogits, inputs.Labels, classes, 1f, 0f, ceGradient, new KernelOptions { Normalizer = inputs.Normalizer });
            // The kernels' gradients are of kd and ce alone; combine them with α.
            TensorPrimitives.Multiply(studentGradient, alpha, studentGradient);
            TensorPrimitives.MultiplyAdd(ceGradient, 1 - alpha, studentGradient, studentGradient);
            return new LossValue(
                (alpha * kd) + ((1 - alpha) * ce.HardLabel),
                new Dictionary<string, float> { ["kd"] = kd, ["ce"] = ce.HardLabel },
                new Dictionary<string, float> { ["alpha"] = alpha, ["temperature"] = t });
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
            if (rentedIndices is not null)
            {
                ArrayPool<int>.Shared.Return(rentedIndices);
            }
            if (rentedValues is not null)
            {
                ArrayPool<float>.Shared.Return(rentedValues);
            }
        }
    }
}
