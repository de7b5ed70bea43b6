using System.Numerics.Tensors;
using KnowledgeDistillation.Kernels.Rows;

namespace KnowledgeDistillation.Kernels;

/// <summary>
/// One row of KL / CE against a sparse top-k teacher. The student side is the full-vocabulary log-softmax at T read at
/// the teacher's indices. Renormalize: teacher p_i / Σp, gradient (p_s − p̂_t scattered)/T.
/// ExtraBucket: teacher leftover r = 1 − Σp against the student's mass ρ outside the indices, computed exactly by
/// summing the student's exponentials over the ids outside the indices, relative to their own maximum (so ρ is exact
/// in log space however small it is). Duplicate indices are allowed and add up.
/// </summary>
/// <remarks>
/// Every log-normaliser is taken relative to its row maximum: a teacher row at mask values (≈ −1e30) keeps its
/// probabilities (a log-sum-exp computed as max + log Σ would absorb log k), and the student's log-probabilities are
/// differences of small numbers whatever the logits' offset. With the extra bucket, the loss uses log max(ρ, 1e-30) (a
/// student that leaves no mass outside the top-k gives a bounded loss) while the gradient is that of the unclamped ρ, a
/// straight-through clamp: on the ids outside the indices it is −r·p_j/ρ + (Σp + r)·p_j, computed from p_j/ρ, the
/// student's share within its own leftover, which is exact even when ρ underflows. The TorchSharp form does the same.
/// </remarks>
internal readonly unsafe struct SparseTopKJob : IRowJob
{
    // log(1e-30): the floor of log ρ in the loss value (not in the gradient).
    private static readonly double LogMinimumStudentRest = Math.Log(1e-30);

    private readonly float* _student;
    private readonly int* _indices;
    private readonly float* _values;
    private readonly float* _gradient;
    private readonly int _classes;
    private readonly int _k;
    private readonly float _inverseTemperature;
    private readonly TopKValueKind _valueKind;
    private readonly TopKMassTreatment _treatment;
    private readonly bool _crossEntropy;
    private readonly double _gradientScale;
    private readonly bool _checkFinite;

    public SparseTopKJob(
        float* student, int* indices, float* values, float* gradient, int classes, int k, float inverseTemperature,
        TopKValueKind valueKind, TopKMassTreatment treatment, bool crossEntropy, double gradientScale, bool checkFinite)
    {
        _student = student;
        _indices = indices;
        _values = values;
        _gradient = gradient;
        _classes = classes;
        _k = k;
        _inverseTemperature = inverseTemperature;
        _valueKind = valueKind;
        _treatment = treatment;
        _crossEntropy = crossEntropy;
        _gradientScale = gradientScale;
        _checkFinite = checkFinite;
    }

    public RowLoss Run(int row)
    {
        var student = new ReadOnlySpan<float>(_student + ((long)row * _classes), _classes);
        var indices = new ReadOnlySpan<int>(_indices + ((long)row * _k), _k);
        var values = new ReadOnlySpan<float>(_values + ((long)row * _k), _k);
        var gradient = new Span<float>(_gradient + ((long)row * _classes), _classes);

        float studentMax = DivergenceRows.Max(student, out float probe);
        if (_checkFinite && !(float.IsFinite(probe) && AllFinite(values)))
        {
            return new RowLoss(double.NaN, 0);
        }

        double studentSum = DivergenceRows.SumExp(student, _inverseTemperature, studentMax);
        double logStudentSum = Math.Log(studentSum);

        // Teacher log-probabilities log p_i = (v_i·scale − shift) − logSum, relative to the row maximum. Log-probabilities
        // with the extra bucket are used as given; their total mass gives the leftover.
        float valueScale = _valueKind == TopKValueKind.Logits ? _inverseTemperature : 1f;
        double teacherShift = 0, teacherLogSum = 0;
        double leftover = 0;
        if (_valueKind == TopKValueKind.Logits || _treatment == TopKMassTreatment.Renormalize)
        {
            (teacherShift, teacherLogSum) = MaxAndLogSum(values, valueScale);
        }
        else
        {
            (double max, double logSum) = MaxAndLogSum(values, 1f);
            leftover = Math.Max(0, -double.ExpM1(Math.Min(max + logSum, 0)));
        }

        double loss = 0, teacherMass = 0;
        for (int i = 0; i < _k; i++)
        {
            double logTeacher = (((double)values[i] * valueScale) - teacherShift) - teacherLogSum;
            double teacherProbability = Math.Exp(logTeacher);
            double logStudent = (((double)student[indices[i]] - studentMax) * _inverseTemperature) - logStudentSum;
            teacherMass += teacherProbability;
            if (teacherProbability > 0)
            {
                loss += teacherProbability * ((_crossEntropy ? 0 : logTeacher) - logStudent);
            }
        }

        if (_treatment == TopKMassTreatment.Renormalize)
        {
            if (!gradient.IsEmpty)
            {
                var pass = new AffineWritePass(student, gradient, studentMax, _inverseTemperature, 0f, exponentiate: true, (float)(_gradientScale * teacherMass / studentSum));
                RowPassRunner.Run(ref pass, _classes);
                ScatterTeacher(indices, values, valueScale, teacherShift, teacherLogSum, gradient);
            }

            return new RowLoss(loss, 0);
        }

        // Extra bucket. The ids outside the indices, in the gradient row as scratch: u_j = (s_j − restMax)/T, −∞ on the indices.
        student.CopyTo(gradient);
        for (int i = 0; i < _k; i++)
        {
            gradient[indices[i]] = float.NegativeInfinity;
        }

        float restMax = TensorPrimitives.Max(gradient);
        double totalMass = teacherMass + leftover;
        double logRest = double.NegativeInfinity; // log ρ: −∞ when every id is among the indices
        if (!float.IsNegativeInfinity(restMax))
        {
            TensorPrimitives.Subtract(gradient, restMax, gradient);
            TensorPrimitives.Multiply(gradient, _inverseTemperature, gradient);
            TensorPrimitives.Exp(gradient, gradient);
            double restSum = TensorPrimitives.Sum(gradient);
            logRest = (((double)restMax - studentMax) * _inverseTemperature) + Math.Log(restSum) - logStudentSum;

            // d/du_j outside the indices: p_j·S − r·p_j/ρ = (p_j/ρ)·(S·ρ − r), with p_j/ρ = e^{u_j} / Σ e^{u}.
            TensorPrimitives.Multiply(gradient, (float)(_gradientScale * ((totalMass * Math.Exp(logRest)) - leftover) / restSum), gradient);
        }
        else
        {
            gradient.Clear();
        }

        if (leftover > 0)
        {
            loss += leftover * ((_crossEntropy ? 0 : Math.Log(leftover)) - Math.Max(logRest, LogMinimumStudentRest));
        }

        // d/du_j on the indices: p_j·S − p_t(j), with S = Σp + r.
        for (int i = 0; i < _k; i++)
        {
            int index = indices[i];
            gradient[index] = (float)(_gradientScale * totalMass * Math.Exp((((double)student[index] - studentMax) * _inverseTemperature) - logStudentSum));
        }

        ScatterTeacher(indices, values, valueScale, teacherShift, teacherLogSum, gradient);
        return new RowLoss(loss, 0);
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float value in values)
        {
            if (!float.IsFinite(value))
            {
                return false;
            }
        }

        return true;
    }

    private void ScatterTeacher(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, float valueScale, double teacherShift, double teacherLogSum, Span<float> gradient)
    {
        for (int i = 0; i < _k; i++)
        {
            gradient[indices[i]] -= (float)(_gradientScale * Math.Exp((((double)values[i] * valueScale) - teacherShift) - teacherLogSum));
        }
    }

    // The row maximum of v·scale and log Σ exp(v·scale − max): the log-sum-exp as two parts, so that callers subtract the
    // maximum first (max + log Σ in one number loses log Σ next to a mask value of −1e30).
    private static (double Max, double LogSum) MaxAndLogSum(ReadOnlySpan<float> values, float scale)
    {
        double max = double.NegativeInfinity;
        foreach (float value in values)
        {
            max = Math.Max(max, (double)value * scale);
        }

        double sum = 0;
        foreach (float value in values)
        {
            sum += Math.Exp(((double)value * scale) - max);
        }

        return (max, Math.Log(sum));
    }
}
