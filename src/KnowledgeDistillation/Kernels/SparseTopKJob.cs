using System.Numerics.Tensors;
using KnowledgeDistillation.Kernels.Rows;

namespace KnowledgeDistillation.Kernels;

/// <summary>
/// One row of KL / CE against a sparse top-k teacher. The student side is the full-vocabulary log-softmax at T read at
/// the teacher's indices. Renormalize: teacher p_i / Σp, gradient (p_s − p̂_t scattered)/T.
/// ExtraBucket: teacher leftover r = 1 − Σp against the student's mass outside the indices, computed exactly by
/// summing the student's exponentials with the indexed entries zeroed (in the gradient row, as scratch).
/// Duplicate indices are allowed and add up.
/// </summary>
internal readonly unsafe struct SparseTopKJob : IRowJob
{
    private const double MinimumStudentRest = 1e-30;

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
        if (_checkFinite && !float.IsFinite(probe + TensorPrimitives.Sum(values) * 0f))
        {
            return new RowLoss(double.NaN, 0);
        }

        double studentSum = DivergenceRows.SumExp(student, _inverseTemperature, studentMax);
        double logStudentSum = Math.Log(studentSum);

        // Teacher log-normaliser over the k entries, and its total mass Σp for the leftover bucket.
        double teacherLogNormaliser;
        double leftover = 0;
        if (_valueKind == TopKValueKind.Logits)
        {
            teacherLogNormaliser = LogSumExp(values, _inverseTemperature);
        }
        else
        {
            double logMass = LogSumExp(values, 1f);
            teacherLogNormaliser = _treatment == TopKMassTreatment.Renormalize ? logMass : 0;
            if (_treatment == TopKMassTreatment.ExtraBucket)
            {
                leftover = Math.Max(0, -double.ExpM1(Math.Min(logMass, 0)));
            }
        }

        float valueScale = _valueKind == TopKValueKind.Logits ? _inverseTemperature : 1f;
        double loss = 0, teacherMass = 0;
        for (int i = 0; i < _k; i++)
        {
            double logTeacher = ((double)values[i] * valueScale) - teacherLogNormaliser;
            double teacherProbability = Math.Exp(logTeacher);
            double logStudent = ((student[indices[i]] - studentMax) * _inverseTemperature) - logStudentSum;
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
                ScatterTeacher(indices, values, valueScale, teacherLogNormaliser, gradient);
            }

            return new RowLoss(loss, 0);
        }

        // Extra bucket: exact student mass outside the indices (no cancellation), via the gradient row as scratch.
        var scratch = new AffineWritePass(student, gradient, studentMax, _inverseTemperature, 0f, exponentiate: true);
        RowPassRunner.Run(ref scratch, _classes);
        for (int i = 0; i < _k; i++)
        {
            gradient[indices[i]] = 0f;
        }

        double studentRest = Math.Max(TensorPrimitives.Sum(gradient) / studentSum, MinimumStudentRest);
        double logStudentRest = Math.Log(studentRest);
        if (leftover > 0)
        {
            loss += leftover * ((_crossEntropy ? 0 : Math.Log(leftover)) - logStudentRest);
        }

        // d/du_j: p_j·S − p_t(j) on the indices, p_j·(S − r/ρ) elsewhere, with S = Σp + r and ρ the student rest mass.
        double totalMass = teacherMass + leftover;
        TensorPrimitives.Multiply(gradient, (float)(_gradientScale * (totalMass - (leftover / studentRest)) / studentSum), gradient);
        for (int i = 0; i < _k; i++)
        {
            int index = indices[i];
            gradient[index] = (float)(_gradientScale * totalMass * Math.Exp(((student[index] - studentMax) * _inverseTemperature) - logStudentSum));
        }

        ScatterTeacher(indices, values, valueScale, teacherLogNormaliser, gradient);
        return new RowLoss(loss, 0);
    }

    private void ScatterTeacher(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, float valueScale, double teacherLogNormaliser, Span<float> gradient)
    {
        for (int i = 0; i < _k; i++)
        {
            gradient[indices[i]] -= (float)(_gradientScale * Math.Exp(((double)values[i] * valueScale) - teacherLogNormaliser));
        }
    }

    private static double LogSumExp(ReadOnlySpan<float> values, float scale)
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

        return max + Math.Log(sum);
    }
}
