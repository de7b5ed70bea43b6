namespace KnowledgeDistillation.Metrics;

/// <summary>
/// Evaluation metrics accumulated batch by batch over logit rows (images, or token positions with a mask), so a
/// held-out set of any size is evaluated without holding all its logits: accuracy, expected calibration error, mean
/// cross-entropy with the labels, and against a teacher, arg-max agreement and mean KL(teacher ‖ student). Each row's
/// arithmetic is that of <see cref="ClassificationMetrics"/> (double precision), so both give the same values.
/// </summary>
public sealed class RowMetrics
{
    private const int Bins = 15;
    private readonly int _classes;
    private readonly int[] _binCount = new int[Bins];
    private readonly int[] _binCorrect = new int[Bins];
    private readonly double[] _binConfidence = new double[Bins];
    private long _rows;
    private long _correct;
    private double _crossEntropy;
    private long _teacherRows;
    private long _agree;
    private double _kl;

    /// <summary>Creates an empty accumulator for rows of <paramref name="classCount"/> logits.</summary>
    public RowMetrics(int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        _classes = classCount;
    }

    /// <summary>Rows counted so far.</summary>
    public long Rows => _rows;

    /// <summary>Fraction of rows whose arg-max is the label (NaN before any row).</summary>
    public double Accuracy => _rows == 0 ? double.NaN : _correct / (double)_rows;

    /// <summary>Mean cross-entropy −log softmax(row)[label], in nats (its exponential is the perplexity of a language model).</summary>
    public double MeanCrossEntropy => _rows == 0 ? double.NaN : _crossEntropy / _rows;

    /// <summary>Expected calibration error over 15 equal-width confidence bins (as <see cref="ClassificationMetrics.ExpectedCalibrationError"/>).</summary>
    public double ExpectedCalibrationError
    {
        get
        {
            if (_rows == 0)
            {
                return double.NaN;
            }
            double ece = 0;
            for (int b = 0; b < Bins; b++)
            {
                if (_binCount[b] > 0)
                {
                    ece += _binCount[b] / (double)_rows * Math.Abs((_binCorrect[b] / (double)_binCount[b]) - (_binConfidence[b] / _binCount[b]));
                }
            }
            return ece;
        }
    }

    /// <summary>True when teacher rows were given.</summary>
    public bool HasTeacher => _teacherRows > 0;

    /// <summary>Fraction of rows where student and teacher have the same arg-max.</summary>
    public double Agreement => _teacherRows == 0 ? double.NaN : _agree / (double)_teacherRows;

    /// <summary>Mean KL(softmax(teacher) ‖ softmax(student)) per row, in nats.</summary>
    public double MeanKlToTeacher => _teacherRows == 0 ? double.NaN : _kl / _teacherRows;

    /// <summary>Adds a batch of rows.</summary>
    /// <param name="studentLogits">Student logits, <c>rows × classes</c>.</param>
    /// <param name="labels">One label per row.</param>
    /// <param name="mask">Which rows count; empty for all.</param>
    /// <param name="teacherLogits">The teacher's logits for the same rows, or empty.</param>
    /// <exception cref="ArgumentException">Shapes disagree or a label is out of range.</exception>
    public void Add(ReadOnlySpan<float> studentLogits, ReadOnlySpan<int> labels, ReadOnlySpan<bool> mask = default, ReadOnlySpan<float> teacherLogits = default)
    {
        int rows = labels.Length;
        if (studentLogits.Length != (long)rows * _classes)
        {
            throw new ArgumentException($"The student logits hold {studentLogits.Length} values but {rows} rows × {_classes} classes were expected.", nameof(studentLogits));
        }
        if (!mask.IsEmpty && mask.Length != rows)
        {
            throw new ArgumentException($"The mask has {mask.Length} entries for {rows} rows.", nameof(mask));
        }
        if (!teacherLogits.IsEmpty && teacherLogits.Length != studentLogits.Length)
        {
            throw new ArgumentException($"The teacher logits hold {teacherLogits.Length} values but the student's {studentLogits.Length}.", nameof(teacherLogits));
        }
        for (int r = 0; r < rows; r++)
        {
            if (!mask.IsEmpty && !mask[r])
            {
                continue;
            }
            int label = labels[r];
            if ((uint)label >= (uint)_classes)
            {
                throw new ArgumentOutOfRangeException(nameof(labels), label, $"Label at row {r} is outside [0, {_classes}).");
            }
            ReadOnlySpan<float> row = studentLogits.Slice(r * _classes, _classes);
            int predicted = ClassificationMetrics.ArgMax(row);
            double lse = LogSumExp(row);
            double confidence = Math.Exp(row[predicted] - lse);
            int bin = Math.Min(Bins - 1, (int)(confidence * Bins));
            _binCount[bin]++;
            _binConfidence[bin] += confidence;
            if (predicted == label)
            {
                _correct++;
                _binCorrect[bin]++;
            }
            _crossEntropy += lse - row[label];
            _rows++;
            if (!teacherLogits.IsEmpty)
            {
                ReadOnlySpan<float> teacher = teacherLogits.Slice(r * _classes, _classes);
                _agree += predicted == ClassificationMetrics.ArgMax(teacher) ? 1 : 0;
                double lseT = LogSumExp(teacher);
                double kl = 0;
                for (int c = 0; c < _classes; c++)
                {
                    double logPt = teacher[c] - lseT;
                    kl += Math.Exp(logPt) * (logPt - (row[c] - lse));
                }
                _kl += kl;
                _teacherRows++;
            }
        }
    }

    private static double LogSumExp(ReadOnlySpan<float> row)
    {
        double max = double.NegativeInfinity;
        foreach (float v in row)
        {
            max = Math.Max(max, v);
        }
        double sum = 0;
        foreach (float v in row)
        {
            sum += Math.Exp(v - max);
        }
        return max + Math.Log(sum);
    }
}
