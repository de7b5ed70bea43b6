using KnowledgeDistillation.Kernels.Rows;

namespace KnowledgeDistillation.Kernels;

/// <summary>
/// One row of the Hinton objective: KL at temperature T (Primary) and hard-label CE at temperature 1 (Secondary),
/// with the fused gradient α·T·(p_s^T − p_t^T)/N + (1−α)·(p_s − onehot)/N written in one pass.
/// </summary>
internal readonly unsafe struct HintonJob : IRowJob
{
    private readonly float* _student;
    private readonly float* _teacher;
    private readonly int* _labels;
    private readonly float* _gradient;
    private readonly int _classes;
    private readonly float _temperature;
    private readonly double _distillationGradientScale;
    private readonly double _hardLabelGradientScale;
    private readonly bool _checkFinite;

    public HintonJob(float* student, float* teacher, int* labels, float* gradient, int classes, float temperature, double distillationGradientScale, double hardLabelGradientScale, bool checkFinite)
    {
        _student = student;
        _teacher = teacher;
        _labels = labels;
        _gradient = gradient;
        _classes = classes;
        _temperature = temperature;
        _distillationGradientScale = distillationGradientScale;
        _hardLabelGradientScale = hardLabelGradientScale;
        _checkFinite = checkFinite;
    }

    public RowLoss Run(int row)
    {
        long offset = (long)row * _classes;
        var student = new ReadOnlySpan<float>(_student + offset, _classes);
        var teacher = new ReadOnlySpan<float>(_teacher + offset, _classes);
        int label = _labels[row];

        float probe = DivergenceRows.MaxPair(student, teacher, out float studentMax, out float teacherMax);
        if (_checkFinite && !float.IsFinite(probe))
        {
            return new RowLoss(double.NaN, double.NaN);
        }

        float inverseTemperature = 1f / _temperature;
        bool unitTemperature = _temperature == 1f;
        float labelLogit = student[label];
        Span<float> gradient = _gradient != null ? new Span<float>(_gradient + offset, _classes) : default;
        // At T = 1 (the CE and KD terms share the student's softmax) the sums pass keeps both rows' exponentials, e^b in
        // the gradient row and e^a in a per-thread scratch row, so the gradient sweep needs no exp: 2 per element in all.
        bool keepExponentials = !gradient.IsEmpty && unitTemperature;
        Span<float> teacherExponentials = keepExponentials ? RowScratch.Get(_classes) : default;
        var sums = new PairSumsPass(teacher, student, inverseTemperature, teacherMax, studentMax, keepExponentials ? gradient : default, teacherExponentials);
        RowPassRunner.Run(ref sums, _classes);
        double distillation = (sums.Cross / sums.ReferenceSum) - Math.Log(sums.ReferenceSum) + Math.Log(sums.OtherSum);

        double unitSum = unitTemperature ? sums.OtherSum : DivergenceRows.SumExp(student, 1f, studentMax);
        double hardLabel = Math.Log(unitSum) - (labelLogit - studentMax);

        if (!gradient.IsEmpty)
        {
            double studentFactor = _distillationGradientScale / sums.OtherSum;
            double unitFactor = _hardLabelGradientScale / unitSum;
            double teacherFactor = _distillationGradientScale / sums.ReferenceSum;
            if (unitTemperature)
            {
                var finish = new FinishProbabilityDifferencePass(teacherExponentials, gradient, (float)(studentFactor + unitFactor), (float)teacherFactor);
                RowPassRunner.Run(ref finish, _classes);
            }
            else
            {
                var pass = new ProbabilityDifferencePass(
                    student, teacher, gradient, inverseTemperature, studentMax, teacherMax,
                    (float)studentFactor, (float)teacherFactor, studentMax, (float)unitFactor);
                RowPassRunner.Run(ref pass, _classes);
            }
            gradient[label] -= (float)_hardLabelGradientScale;
        }

        return new RowLoss(distillation, hardLabel);
    }
}
