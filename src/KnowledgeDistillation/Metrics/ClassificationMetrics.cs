namespace KnowledgeDistillation.Metrics;

/// <summary>
/// Evaluation metrics over logits <c>[rows, classes]</c> (row-major spans): accuracy, top-k accuracy, teacher–student
/// agreement, mean KL to the teacher, and expected calibration error.
/// </summary>
public static class ClassificationMetrics
{
    /// <summary>Fraction of rows whose arg-max equals the label.</summary>
    public static double Accuracy(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes) => TopKAccuracy(logits, labels, classes, 1);

    /// <summary>Fraction of rows whose label is among the <paramref name="k"/> largest logits (ties count against the label).</summary>
    /// <exception cref="ArgumentException">Shapes disagree, k is outside [1, classes], or a label is out of range.</exception>
    public static double TopKAccuracy(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, int k)
    {
        int rows = CheckShape(logits, labels.Length, classes, nameof(logits));
        if (k < 1 || k > classes)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be in [1, {classes}].");
        }
        if (rows == 0)
        {
            return double.NaN;
        }
        int hits = 0;
        for (int r = 0; r < rows; r++)
        {
            int label = labels[r];
            if ((uint)label >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(nameof(labels), label, $"Label at row {r} is outside [0, {classes}).");
            }
            ReadOnlySpan<float> row = logits.Slice(r * classes, classes);
            float target = row[label];
            int better = 0;
            for (int c = 0; c < classes; c++)
            {
                // Strictly greater, or equal with a lower index: a deterministic tie-break like arg-max.
                if (row[c] > target || (row[c] == target && c < label))
                {
                    better++;
                }
            }
            if (better < k)
            {
                hits++;
            }
        }
        return hits / (double)rows;
    }

    /// <summary>Fraction of rows where student and teacher have the same arg-max.</summary>
    public static double Agreement(ReadOnlySpan<float> studentLogits, ReadOnlySpan<float> teacherLogits, int classes)
    {
        int rows = CheckShape(studentLogits, -1, classes, nameof(studentLogits));
        CheckShape(teacherLogits, rows, classes, nameof(teacherLogits));
        if (rows == 0)
        {
            return double.NaN;
        }
        int same = 0;
        for (int r = 0; r < rows; r++)
        {
            if (ArgMax(studentLogits.Slice(r * classes, classes)) == ArgMax(teacherLogits.Slice(r * classes, classes)))
            {
                same++;
            }
        }
        return same / (double)rows;
    }

    /// <summary>Mean over rows of KL(softmax(teacher/T) ‖ softmax(student/T)), in nats, computed in double precision.</summary>
    public static double MeanKlToTeacher(ReadOnlySpan<float> studentLogits, ReadOnlySpan<float> teacherLogits, int classes, float temperature = 1f)
    {
        int rows = CheckShape(studentLogits, -1, classes, nameof(studentLogits));
        CheckShape(teacherLogits, rows, classes, nameof(teacherLogits));
        if (!(temperature > 0) || !float.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature must be positive and finite.");
        }
        if (rows == 0)
        {
            return double.NaN;
        }
        double sum = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> s = studentLogits.Slice(r * classes, classes);
            ReadOnlySpan<float> t = teacherLogits.Slice(r * classes, classes);
            double lseS = LogSumExp(s, temperature), lseT = LogSumExp(t, temperature);
            double kl = 0;
            for (int c = 0; c < classes; c++)
            {
                double logPt = (t[c] / (double)temperature) - lseT;
                double logPs = (s[c] / (double)temperature) - lseS;
                kl += Math.Exp(logPt) * (logPt - logPs);
            }
            sum += kl;
        }
        return sum / rows;
    }

    /// <summary>
    /// Expected calibration error (Guo et al. 2017): the confidence (max softmax probability) is binned into
    /// <paramref name="bins"/> equal-width bins; ECE = Σ_b (n_b / n)·|accuracy_b − confidence_b|.
    /// </summary>
    public static double ExpectedCalibrationError(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, int bins = 15)
    {
        int rows = CheckShape(logits, labels.Length, classes, nameof(logits));
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        if (rows == 0)
        {
            return double.NaN;
        }
        var count = new int[bins];
        var correct = new int[bins];
        var confidence = new double[bins];
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = logits.Slice(r * classes, classes);
            int predicted = ArgMax(row);
            double p = Math.Exp(row[predicted] - LogSumExp(row, 1f));
            int b = Math.Min(bins - 1, (int)(p * bins));
            count[b]++;
            confidence[b] += p;
            if (predicted == labels[r])
            {
                correct[b]++;
            }
        }
        double ece = 0;
        for (int b = 0; b < bins; b++)
        {
            if (count[b] > 0)
            {
                ece += count[b] / (double)rows * Math.Abs((correct[b] / (double)count[b]) - (confidence[b] / count[b]));
            }
        }
        return ece;
    }

    /// <summary>Index of the largest value (the first one on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> row)
    {
        if (row.IsEmpty)
        {
            throw new ArgumentException("Cannot take the arg-max of an empty row.", nameof(row));
        }
        int best = 0;
        for (int c = 1; c < row.Length; c++)
        {
            if (row[c] > row[best])
            {
                best = c;
            }
        }
        return best;
    }

    private static double LogSumExp(ReadOnlySpan<float> row, float temperature)
    {
        double max = double.NegativeInfinity;
        foreach (float v in row)
        {
            max = Math.Max(max, v / (double)temperature);
        }
        double sum = 0;
        foreach (float v in row)
        {
            sum += Math.Exp((v / (double)temperature) - max);
        }
        return max + Math.Log(sum);
    }

    private static int CheckShape(ReadOnlySpan<float> logits, int rows, int classes, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        if (logits.Length % classes != 0 || (rows >= 0 && logits.Length != rows * classes))
        {
            throw new ArgumentException(
                rows >= 0
                    ? $"'{name}' holds {logits.Length} values but {rows} rows × {classes} classes = {rows * classes} were expected."
                    : $"'{name}' holds {logits.Length} values, not a multiple of {classes} classes.",
                name);
        }
        return logits.Length / classes;
    }
}
