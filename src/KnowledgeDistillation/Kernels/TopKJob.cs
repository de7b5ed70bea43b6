namespace KnowledgeDistillation.Kernels;

/// <summary>Top-k extraction for one row.</summary>
internal readonly unsafe struct TopKJob : IRowJob
{
    private readonly float* _logits;
    private readonly int* _indices;
    private readonly float* _values;
    private readonly int _classes;
    private readonly int _k;

    public TopKJob(float* logits, int* indices, float* values, int classes, int k)
    {
        _logits = logits;
        _indices = indices;
        _values = values;
        _classes = classes;
        _k = k;
    }

    public RowLoss Run(int row)
    {
        TopKSelection.Select(
            new ReadOnlySpan<float>(_logits + ((long)row * _classes), _classes),
            new Span<int>(_indices + ((long)row * _k), _k),
            new Span<float>(_values + ((long)row * _k), _k));
        return new RowLoss(0, 0);
    }
}
