namespace KnowledgeDistillation.Kernels;

/// <summary>One row of a dense divergence, over pinned buffers so that it can run on any thread.</summary>
internal readonly unsafe struct DivergenceJob : IRowJob
{
    private readonly float* _student;
    private readonly float* _teacher;
    private readonly float* _gradient;
    private readonly int _classes;
    private readonly DivergenceKind _kind;
    private readonly float _inverseTemperature;
    private readonly float _beta;
    private readonly float _gradientScale;
    private readonly bool _checkFinite;

    public DivergenceJob(float* student, float* teacher, float* gradient, int classes, DivergenceKind kind, float inverseTemperature, float beta, float gradientScale, bool checkFinite)
    {
        _student = student;
        _teacher = teacher;
        _gradient = gradient;
        _classes = classes;
        _kind = kind;
        _inverseTemperature = inverseTemperature;
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
        double loss = _kind switch
        {
            DivergenceKind.ForwardKl => DivergenceRows.Forward(student, teacher, _inverseTemperature, false, _checkFinite, _gradientScale, gradient),
            DivergenceKind.SoftTargetCrossEntropy => DivergenceRows.Forward(student, teacher, _inverseTemperature, true, _checkFinite, _gradientScale, gradient),
            DivergenceKind.ReverseKl => DivergenceRows.Reverse(student, teacher, _inverseTemperature, _checkFinite, _gradientScale, gradient),
            _ => DivergenceRows.JensenShannon(student, teacher, _inverseTemperature, _beta, _checkFinite, _gradientScale, gradient),
        };
        return new RowLoss(loss, 0);
    }
}
