using KnowledgeDistillation.Kernels.Rows;

namespace KnowledgeDistillation.Kernels;

/// <summary>One row of softmax / log-softmax / log-sum-exp at temperature T, max-subtracted.</summary>
internal readonly unsafe struct SoftmaxJob : IRowJob
{
    private readonly float* _source;
    private readonly float* _destination;
    private readonly int _classes;
    private readonly float _inverseTemperature;
    private readonly SoftmaxMode _mode;
    private readonly bool _checkFinite;

    public SoftmaxJob(float* source, float* destination, int classes, float inverseTemperature, SoftmaxMode mode, bool checkFinite)
    {
        _source = source;
        _destination = destination;
        _classes = classes;
        _inverseTemperature = inverseTemperature;
        _mode = mode;
        _checkFinite = checkFinite;
    }

    public RowLoss Run(int row)
    {
        long offset = (long)row * _classes;
        var source = new ReadOnlySpan<float>(_source + offset, _classes);
        float max = DivergenceRows.Max(source, out float probe);
        if (_checkFinite && !float.IsFinite(probe))
        {
            return new RowLoss(double.NaN, 0);
        }

        double sum = DivergenceRows.SumExp(source, _inverseTemperature, max);
        double logSum = Math.Log(sum);
        switch (_mode)
        {
            case SoftmaxMode.Softmax:
                {
                    var pass = new AffineWritePass(source, new Span<float>(_destination + offset, _classes), max, _inverseTemperature, 0f, exponentiate: true, (float)(1 / sum));
                    RowPassRunner.Run(ref pass, _classes);
                    break;
                }

            case SoftmaxMode.LogSoftmax:
                {
                    var pass = new AffineWritePass(source, new Span<float>(_destination + offset, _classes), max, _inverseTemperature, (float)-logSum, exponentiate: false);
                    RowPassRunner.Run(ref pass, _classes);
                    break;
                }

            default:
                _destination[row] = (float)(((double)max * _inverseTemperature) + logSum);
                break;
        }

        return new RowLoss(0, 0);
    }
}
