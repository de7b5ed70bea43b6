using System.Globalization;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.TorchSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.LanguageModels;

/// <summary>
/// Token-level distillation losses on TorchSharp tensors <c>[batch, sequence, vocabulary]</c> with a <c>[batch, sequence]</c>
/// boolean mask. Each returns a scalar tensor whose value is the loss and whose gradient with respect to the student
/// logits is the loss's gradient, so it can be added to other terms and back-propagated.
/// </summary>
/// <remarks>
/// On the CPU (path <see cref="LogitLossPath.Auto"/> or <see cref="LogitLossPath.FusedCpuKernels"/>) the loss and gradient
/// come from <see cref="SequenceDistillation"/> (fused SIMD kernels on the valid rows) and enter autograd through the
/// surrogate <c>Σ s ⊙ g − stopgrad(Σ s ⊙ g) + loss</c>. On CUDA they are TorchSharp operations, so the logits never leave
/// the device; tests check both paths agree. Token mappings run on the fused path only.
/// </remarks>
public static class TorchSequenceLosses
{
    private const float Dropped = SequenceLossPolicy.DroppedLogValue;

    /// <summary>Dense teacher logits <c>[batch, sequence, teacherVocabulary]</c> (detached inside).</summary>
    /// <param name="studentLogits">Student logits <c>[batch, sequence, studentVocabulary]</c>.</param>
    /// <param name="teacherLogits">Teacher logits <c>[batch, sequence, teacherVocabulary]</c>.</param>
    /// <param name="mask">Boolean <c>[batch, sequence]</c>: true = distil.</param>
    /// <param name="options">Divergence, temperature, vocabulary.</param>
    /// <param name="normalizer">Valid tokens of the whole accumulated batch; null = this batch's.</param>
    /// <param name="path">Fused CPU kernels or TorchSharp operations.</param>
    /// <param name="mapping">Teacher → student ids when tokenizers differ (fused path only).</param>
    public static Tensor Dense(Tensor studentLogits, Tensor teacherLogits, Tensor mask, SequenceLossOptions options, float? normalizer = null, LogitLossPath path = LogitLossPath.Auto, TokenMapping? mapping = null)
    {
        ArgumentNullException.ThrowIfNull(studentLogits);
        ArgumentNullException.ThrowIfNull(teacherLogits);
        ArgumentNullException.ThrowIfNull(mask);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckShapes(studentLogits, mask, teacherLogits, nameof(teacherLogits));
        int studentVocabulary = (int)studentLogits.shape[2];
        int teacherVocabulary = (int)teacherLogits.shape[2];
        if (UseKernels(studentLogits, path))
        {
            float[] student = ToArray(studentLogits);
            float[] teacher = ToArray(teacherLogits);
            bool[] valid = mask.detach().cpu().data<bool>().ToArray();
            var gradient = new float[student.Length];
            SequenceLossValue value = SequenceDistillation.DenseWithGradient(student, studentVocabulary, teacher, teacherVocabulary, valid, options, gradient, normalizer, mapping);
            return Surrogate(studentLogits, gradient, value.Loss);
        }

        if (mapping is not null)
        {
            throw new NotSupportedException("Token mappings run on the fused CPU kernels only: use LogitLossPath.FusedCpuKernels.");
        }

        int vocabulary = SequenceLossPolicy.ComparedVocabulary(studentVocabulary, teacherVocabulary, options, mapping: null);

        using var scope = torch.NewDisposeScope();
        Tensor validMask = mask.to(studentLogits.device).to_type(ScalarType.Bool);
        Tensor t = teacherLogits.detach();
        if (teacherVocabulary > vocabulary)
        {
            CheckExtraMass(t, validMask, vocabulary, options.ExtraMassTolerance);
        }

        using Scalar temperature = options.Temperature.ToScalar();
        Tensor logPs = StableLogSoftmax(studentLogits.narrow(2, 0, vocabulary).div(temperature));
        Tensor logPt = StableLogSoftmax(t.narrow(2, 0, vocabulary).div(temperature));
        Tensor rows = RowDivergence(logPt, logPs, options.Kind, options.JsdBeta);
        return Reduce(rows, validMask, options, normalizer).MoveToOuterDisposeScope();
    }

    /// <summary>Sparse top-k teacher: ids <c>[batch, sequence, k]</c> (int64) and log-probabilities or logits <c>[batch, sequence, k]</c>.</summary>
    /// <param name="studentLogits">Student logits <c>[batch, sequence, studentVocabulary]</c>.</param>
    /// <param name="teacherIndices">Teacher ids, int64.</param>
    /// <param name="teacherValues">Teacher values, float32.</param>
    /// <param name="valueKind">What the values are.</param>
    /// <param name="mask">Boolean <c>[batch, sequence]</c>: true = distil.</param>
    /// <param name="options">Divergence, temperature, vocabulary, leftover-mass treatment.</param>
    /// <param name="normalizer">Valid tokens of the whole accumulated batch; null = this batch's.</param>
    /// <param name="path">Fused CPU kernels or TorchSharp operations.</param>
    /// <param name="mapping">Teacher → student ids when tokenizers differ (fused path only).</param>
    public static Tensor SparseTopK(Tensor studentLogits, Tensor teacherIndices, Tensor teacherValues, TopKValueKind valueKind, Tensor mask, SequenceLossOptions options, float? normalizer = null, LogitLossPath path = LogitLossPath.Auto, TokenMapping? mapping = null)
    {
        ArgumentNullException.ThrowIfNull(studentLogits);
        ArgumentNullException.ThrowIfNull(teacherIndices);
        ArgumentNullException.ThrowIfNull(teacherValues);
        ArgumentNullException.ThrowIfNull(mask);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckShapes(studentLogits, mask, teacherIndices, nameof(teacherIndices));
        if (!teacherIndices.shape.SequenceEqual(teacherValues.shape))
        {
            throw new ArgumentException($"teacherValues has shape [{string.Join(", ", teacherValues.shape)}]; it must match teacherIndices [{string.Join(", ", teacherIndices.shape)}].", nameof(teacherValues));
        }

        int studentVocabulary = (int)studentLogits.shape[2];
        int k = (int)teacherIndices.shape[2];
        if (UseKernels(studentLogits, path))
        {
            float[] student = ToArray(studentLogits);
            int[] indices = teacherIndices.detach().cpu().to_type(ScalarType.Int32).data<int>().ToArray();
            float[] values = ToArray(teacherValues);
            bool[] valid = mask.detach().cpu().data<bool>().ToArray();
            var gradient = new float[student.Length];
            SequenceLossValue value = SequenceDistillation.SparseWithGradient(student, studentVocabulary, indices, values, k, valueKind, valid, options, gradient, normalizer, mapping);
            return Surrogate(studentLogits, gradient, value.Loss);
        }

        if (mapping is not null)
        {
            throw new NotSupportedException("Token mappings run on the fused CPU kernels only: use LogitLossPath.FusedCpuKernels.");
        }

        bool forward = SequenceLossPolicy.IsForward(options);
        bool bucket = SequenceLossPolicy.Treatment(options, valueKind) == TopKMassTreatment.ExtraBucket;

        int vocabulary = options.VocabularySize ?? studentVocabulary;
        using var scope = torch.NewDisposeScope();
        Device device = studentLogits.device;
        Tensor validMask = mask.to(device).to_type(ScalarType.Bool);
        Tensor idx = teacherIndices.to(device).to_type(ScalarType.Int64);
        Tensor keep = idx.lt(vocabulary);
        using Scalar zeroScalar = 0.ToScalar();
        Tensor safeIdx = idx.masked_fill(keep.logical_not(), zeroScalar);
        using Scalar temperature = options.Temperature.ToScalar();
        using Scalar dropped = Dropped.ToScalar();
        using Scalar one = 1.ToScalar();
        Tensor v = teacherValues.detach().to(device);
        Tensor dropMask = keep.logical_not();
        using Scalar minusInfinity = float.NegativeInfinity.ToScalar();
        // Teacher log-probabilities over the k entries, relative to the row maximum (a row at mask values keeps its shape).
        Tensor logPtRaw = valueKind == TopKValueKind.LogProbabilities ? v : StableLogSoftmax(v.div(temperature));
        Tensor droppedMass = logPtRaw.exp().masked_fill(keep, zeroScalar).sum(2);
        if (valueKind == TopKValueKind.Logits)
        {
            droppedMass = droppedMass.div(logPtRaw.exp().sum(2));
        }

        float worst = droppedMass.masked_fill(validMask.logical_not(), zeroScalar).max().item<float>();
        if (worst > options.ExtraMassTolerance)
        {
            throw new InvalidOperationException(SequenceLossPolicy.ExtraMassMessage("", worst, vocabulary, options.ExtraMassTolerance));
        }

        Tensor logPt = logPtRaw.masked_fill(dropMask, dropped);
        // The student's log-probabilities relative to the row maximum: (s − max) − log Σ e^{s − max}, never the difference of
        // two large log-sum-exps (rows at −1e4 lose 1e-3 in float32 that way; rows at −1e30 everything).
        Tensor s = Shifted(studentLogits.narrow(2, 0, vocabulary).div(temperature));
        Tensor logZ = s.logsumexp(2, keepdim: true);
        Tensor logPsIdx = s.gather(2, safeIdx).add(logZ, TorchScalars.MinusOne).masked_fill(dropMask, dropped);
        Tensor rows;
        if (bucket)
        {
            // The student's leftover ρ: its exponentials outside the top-k, relative to their own maximum, so that log ρ is
            // exact however small ρ is. Its value is floored at log 1e-30 and its gradient is that of the unfloored ρ (a
            // straight-through clamp), as the fused kernels compute them: a student that leaves no mass outside the top-k
            // is still pushed to leave some, with the true gradient −r·p_j/ρ on the ids outside.
            using Scalar tiny = 1e-30.ToScalar();
            using Scalar floorLog = Math.Log(1e-30).ToScalar();
            Tensor inside = torch.zeros_like(s).scatter_add(2, safeIdx, keep.to_type(s.dtype)).gt(zeroScalar);
            Tensor outside = s.masked_fill(inside, minusInfinity);
            Tensor restMax = outside.amax([2], keepdim: true).detach();
            Tensor empty = restMax.isneginf();
            Tensor restShift = restMax.masked_fill(empty, zeroScalar);
            Tensor restSum = outside.add(restShift, TorchScalars.MinusOne).exp().sum(2, keepdim: true);
            Tensor logRest = restShift.add(restSum.masked_fill(empty, one).log(), TorchScalars.One).add(logZ, TorchScalars.MinusOne);
            Tensor floored = torch.where(empty, torch.full_like(logRest, floorLog), logRest.clamp_min(floorLog));
            // floored + (logRest − stopgrad(logRest)): the value is exactly the floored one (logRest + (floored − logRest)
            // would lose −69 next to a log ρ of −5e29), the gradient that of logRest.
            Tensor studentRest = floored.detach().add(logRest.add(logRest.detach(), TorchScalars.MinusOne), TorchScalars.One).squeeze(2);
            // The teacher's leftover 1 − Σp as −expm1(log Σp): no cancellation when the top-k holds nearly all.
            Tensor teacherRest = logPt.logsumexp(2).clamp_max(zeroScalar).expm1().neg().clamp_min(tiny).log();
            Tensor t = torch.cat(new[] { logPt, teacherRest.unsqueeze(2) }, 2);
            Tensor st = torch.cat(new[] { logPsIdx, studentRest.unsqueeze(2) }, 2);
            rows = RowDivergence(t, st, options.Kind, options.JsdBeta);
        }
        else
        {
            // Renormalised over the kept entries only (a dropped entry takes no share, even next to mask values).
            Tensor renormalisedTeacher = StableLogSoftmax(logPtRaw.masked_fill(dropMask, minusInfinity)).masked_fill(dropMask, dropped);
            Tensor studentSide = forward ? logPsIdx : StableLogSoftmax(logPsIdx.masked_fill(dropMask, minusInfinity)).masked_fill(dropMask, dropped);
            rows = RowDivergence(renormalisedTeacher, studentSide, options.Kind, options.JsdBeta);
        }

        return Reduce(rows, validMask, options, normalizer).MoveToOuterDisposeScope();
    }

    /// <summary>Log-softmax over the last dimension, computed after subtracting the row maximum (see <see cref="Shifted"/>).</summary>
    internal static Tensor StableLogSoftmax(Tensor x) => nn.functional.log_softmax(Shifted(x), -1);

    /// <summary>
    /// <paramref name="x"/> minus its (detached) maximum over the last dimension: softmax and log-sum-exp do not change, and
    /// what follows works on small numbers whatever the row's offset (a neutral shift of ±3000, rows at −1e4 or at mask
    /// values of −1e30). The maximum is detached because the result does not depend on it; rows of −∞ only keep a 0 shift.
    /// </summary>
    internal static Tensor Shifted(Tensor x)
    {
        using Scalar zero = 0.ToScalar();
        Tensor max = x.amax([-1], keepdim: true).detach();
        return x.add(max.masked_fill(max.isinf(), zero), TorchScalars.MinusOne);
    }

    // Σ over the last dimension of the divergence between log-probabilities (dropped entries hold −1e30 on both sides).
    internal static Tensor RowDivergence(Tensor logPt, Tensor logPs, DivergenceKind kind, float beta)
    {
        if (kind == DivergenceKind.JensenShannon && (beta == 0f || beta == 1f))
        {
            kind = beta == 0f ? DivergenceKind.ForwardKl : DivergenceKind.ReverseKl;
        }

        switch (kind)
        {
            case DivergenceKind.ForwardKl:
                return logPt.exp().mul(logPt.add(logPs, TorchScalars.MinusOne)).sum(-1);
            case DivergenceKind.SoftTargetCrossEntropy:
                return logPt.exp().mul(logPs).sum(-1).neg();
            case DivergenceKind.ReverseKl:
                return logPs.exp().mul(logPs.add(logPt, TorchScalars.MinusOne)).sum(-1);
            default:
                using (Scalar logBeta = Math.Log(beta).ToScalar())
                using (Scalar logOneMinusBeta = Math.Log(1 - beta).ToScalar())
                using (Scalar b = beta.ToScalar())
                using (Scalar oneMinusB = (1 - beta).ToScalar())
                {
                    Tensor logM = torch.logaddexp(logPs.add(logOneMinusBeta), logPt.add(logBeta));
                    Tensor teacherTerm = logPt.exp().mul(logPt.add(logM, TorchScalars.MinusOne)).sum(-1);
                    Tensor studentTerm = logPs.exp().mul(logPs.add(logM, TorchScalars.MinusOne)).sum(-1);
                    return teacherTerm.mul(b).add(studentTerm.mul(oneMinusB), TorchScalars.One);
                }
        }
    }

    private static Tensor Reduce(Tensor rows, Tensor validMask, SequenceLossOptions options, float? normalizer)
    {
        float divisor = SequenceLossPolicy.Divisor(normalizer, validMask.sum().item<long>());
        double scale = (options.ScaleByTemperatureSquared ? (double)options.Temperature * options.Temperature : 1d) / divisor;
        using Scalar s = scale.ToScalar();
        using Scalar zero = 0.ToScalar();
        // masked_fill, not a multiply: a masked row's loss could be huge and 0 · ∞ would be NaN.
        return rows.masked_fill(validMask.logical_not(), zero).sum().mul(s);
    }

    private static void CheckExtraMass(Tensor teacher, Tensor validMask, int vocabulary, float tolerance)
    {
        using var scope = torch.NewDisposeScope();
        Tensor all = teacher.logsumexp(2);
        Tensor extra = teacher.narrow(2, vocabulary, teacher.shape[2] - vocabulary).logsumexp(2);
        using Scalar zero = 0.ToScalar();
        float worst = extra.add(all, TorchScalars.MinusOne).exp().masked_fill(validMask.logical_not(), zero).max().item<float>();
        if (worst > tolerance)
        {
            throw new InvalidOperationException(SequenceLossPolicy.ExtraMassMessage(string.Create(CultureInfo.InvariantCulture, $"Columns [{vocabulary}, {teacher.shape[2]}): "), worst, vocabulary, tolerance));
        }
    }

    private static Tensor Surrogate(Tensor studentLogits, float[] gradient, float loss)
    {
        using var scope = torch.NewDisposeScope();
        Tensor g = torch.tensor(gradient, studentLogits.shape).to(studentLogits.device);
        Tensor inner = studentLogits.mul(g).sum();
        Tensor value = torch.tensor(loss, device: studentLogits.device);
        // Value = loss, gradient = g: the surrogate minus its own value contributes only the gradient.
        return inner.add(inner.detach(), TorchScalars.MinusOne).add(value, TorchScalars.One).MoveToOuterDisposeScope();
    }

    private static bool UseKernels(Tensor studentLogits, LogitLossPath path) =>
        path == LogitLossPath.FusedCpuKernels || (path == LogitLossPath.Auto && studentLogits.device.type == DeviceType.CPU);

    private static float[] ToArray(Tensor tensor) => tensor.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();

    private static void CheckShapes(Tensor studentLogits, Tensor mask, Tensor teacher, string teacherName)
    {
        if (studentLogits.dim() != 3)
        {
            throw new ArgumentException($"studentLogits must be [batch, sequence, vocabulary]; got [{string.Join(", ", studentLogits.shape)}].", nameof(studentLogits));
        }

        if (mask.dim() != 2 || mask.shape[0] != studentLogits.shape[0] || mask.shape[1] != studentLogits.shape[1] || mask.dtype != ScalarType.Bool)
        {
            throw new ArgumentException($"mask must be a bool tensor [batch, sequence] = [{studentLogits.shape[0]}, {studentLogits.shape[1]}]; got {mask.dtype} [{string.Join(", ", mask.shape)}].", nameof(mask));
        }

        if (teacher.dim() != 3 || teacher.shape[0] != studentLogits.shape[0] || teacher.shape[1] != studentLogits.shape[1])
        {
            throw new ArgumentException($"{teacherName} must be [{studentLogits.shape[0]}, {studentLogits.shape[1]}, *]; got [{string.Join(", ", teacher.shape)}].", teacherName);
        }
    }
}
