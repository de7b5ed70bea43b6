using KnowledgeDistillation.Kernels.Rows;

namespace KnowledgeDistillation.Kernels;

/// <summary>
/// One row of Decoupled KD (Zhao et al. 2022): TCKD = KL(b_t ‖ b_s) on the binary (target, rest) split and
/// NCKD = KL(q_t ‖ q_s) on the softmax over non-target classes, loss = α·TCKD + β·NCKD (T² applied by the caller).
/// The non-target softmax is shifted by its own maximum, so a dominant target logit cannot underflow it.
/// Gradient w.r.t. u = s/T: target α(p_y − b_t); others (α(b_t − p_y) + β)·q_s − β·q_t.
/// </summary>
internal readonly unsafe struct DecoupledKdJob : IRowJob
{
    private readonly float* _student;
    private readonly float* _teacher;
    private readonly int* _labels;
    private readonly float* _gradient;
    private readonly int _classes;
    private readonly float _inverseTemperature;
    private readonly double _alpha;
    private readonly double _beta;
    private readonly double _gradientScale;
    private readonly bool _checkFinite;

    public DecoupledKdJob(float* student, float* teacher, int* labels, float* gradient, int classes, float inverseTemperature, double alpha, double beta, double gradientScale, bool checkFinite)
    {
        _student = student;
        _teacher = teacher;
        _labels = labels;
        _gradient = gradient;
        _classes = classes;
        _inverseTemperature = inverseTemperature;
        _alpha = alpha;
        _beta = beta;
        _gradientScale = gradientScale;
        _checkFinite = checkFinite;
    }

    public RowLoss Run(int row)
    {
        long offset = (long)row * _classes;
        var student = new ReadOnlySpan<float>(_student + offset, _classes);
        var teacher = new ReadOnlySpan<float>(_teacher + offset, _classes);
        Span<float> gradient = _gradient == null ? default : new Span<float>(_gradient + offset, _classes);
        int label = _labels[row];
        if (_checkFinite && !(float.IsFinite(student[label]) && float.IsFinite(teacher[label])))
        {
            return new RowLoss(double.NaN, 0);
        }

        if (_classes == 1)
        {
            // One class: both binary splits are (1, 0) and there are no non-target classes.
            gradient.Clear();
            return new RowLoss(0, 0);
        }

        ReadOnlySpan<float> studentHead = student[..label], studentTail = student[(label + 1)..];
        ReadOnlySpan<float> teacherHead = teacher[..label], teacherTail = teacher[(label + 1)..];
        float studentMax = MathF.Max(DivergenceRows.Max(studentHead, out float probe1), DivergenceRows.Max(studentTail, out float probe2));
        float teacherMax = MathF.Max(DivergenceRows.Max(teacherHead, out float probe3), DivergenceRows.Max(teacherTail, out float probe4));
        if (_checkFinite && !float.IsFinite(probe1 + probe2 + probe3 + probe4))
        {
            return new RowLoss(double.NaN, 0);
        }

        var head = new PairSumsPass(teacherHead, studentHead, _inverseTemperature, teacherMax, studentMax);
        RowPassRunner.Run(ref head, label);
        var tail = new PairSumsPass(teacherTail, studentTail, _inverseTemperature, teacherMax, studentMax);
        RowPassRunner.Run(ref tail, _classes - label - 1);
        double teacherRest = head.ReferenceSum + tail.ReferenceSum;
        double studentRest = head.OtherSum + tail.OtherSum;
        double logTeacherRest = Math.Log(teacherRest);
        double logStudentRest = Math.Log(studentRest);
        double nonTarget = ((head.Cross + tail.Cross) / teacherRest) - logTeacherRest + logStudentRest;

        // Binary split in log space: log b1 = l_y − logaddexp(l_y, log Z_rest), log b2 = log Z_rest − logaddexp(...).
        double studentTarget = (double)(student[label] - studentMax) * _inverseTemperature;
        double teacherTarget = (double)(teacher[label] - teacherMax) * _inverseTemperature;
        double studentNormaliser = LogAddExp(studentTarget, logStudentRest);
        double teacherNormaliser = LogAddExp(teacherTarget, logTeacherRest);
        double logStudentTarget = studentTarget - studentNormaliser, logStudentOther = logStudentRest - studentNormaliser;
        double logTeacherTarget = teacherTarget - teacherNormaliser, logTeacherOther = logTeacherRest - teacherNormaliser;
        double teacherTargetProbability = Math.Exp(logTeacherTarget), teacherOtherProbability = Math.Exp(logTeacherOther);
        double studentTargetProbability = Math.Exp(logStudentTarget);
        double targetTerm = (teacherTargetProbability * (logTeacherTarget - logStudentTarget)) + (teacherOtherProbability * (logTeacherOther - logStudentOther));

        if (!gradient.IsEmpty)
        {
            double targetGap = teacherTargetProbability - studentTargetProbability;
            float studentFactor = (float)(_gradientScale * ((_alpha * targetGap) + _beta) / studentRest);
            float teacherFactor = (float)(_gradientScale * _beta / teacherRest);
            var headPass = new ProbabilityDifferencePass(studentHead, teacherHead, gradient[..label], _inverseTemperature, studentMax, teacherMax, studentFactor, teacherFactor);
            RowPassRunner.Run(ref headPass, label);
            var tailPass = new ProbabilityDifferencePass(studentTail, teacherTail, gradient[(label + 1)..], _inverseTemperature, studentMax, teacherMax, studentFactor, teacherFactor);
            RowPassRunner.Run(ref tailPass, _classes - label - 1);
            gradient[label] = (float)(-_gradientScale * _alpha * targetGap);
        }

        return new RowLoss((_alpha * targetTerm) + (_beta * nonTarget), 0);
    }

    private static double LogAddExp(double x, double y)
    {
        double max = Math.Max(x, y);
        return max + Math.Log(1 + Math.Exp(-Math.Abs(x - y)));
    }
}
