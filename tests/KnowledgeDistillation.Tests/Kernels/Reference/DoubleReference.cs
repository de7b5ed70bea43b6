using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Tests.Kernels.Reference;

/// <summary>
/// An independent double-precision reference: plain loops, log-softmax from its definition, and gradients by the
/// generic chain rule dL/du = G − p_s·ΣG with G = ∂L/∂(log p_s), not by the kernels' closed forms.
/// </summary>
internal static class DoubleReference
{
    public static double[] LogSoftmax(ReadOnlySpan<float> row, double temperature)
    {
        double max = double.NegativeInfinity;
        foreach (float v in row)
        {
            max = Math.Max(max, v / temperature);
        }

        double sum = 0;
        foreach (float v in row)
        {
            sum += Math.Exp((v / temperature) - max);
        }

        double log = max + Math.Log(sum);
        var result = new double[row.Length];
        for (int i = 0; i < row.Length; i++)
        {
            result[i] = (row[i] / temperature) - log;
        }

        return result;
    }

    public static double LogSumExp(ReadOnlySpan<float> row, double temperature)
    {
        double max = double.NegativeInfinity;
        foreach (float v in row)
        {
            max = Math.Max(max, v / temperature);
        }

        double sum = 0;
        foreach (float v in row)
        {
            sum += Math.Exp((v / temperature) - max);
        }

        return max + Math.Log(sum);
    }

    /// <summary>Loss of one row and G = ∂L/∂(log p_s) with p_t fixed.</summary>
    public static (double Loss, double[] G) RowLoss(DivergenceKind kind, double[] ls, double[] lt, double beta)
    {
        int n = ls.Length;
        var g = new double[n];
        double loss = 0;
        switch (kind)
        {
            case DivergenceKind.ForwardKl:
            case DivergenceKind.SoftTargetCrossEntropy:
                for (int i = 0; i < n; i++)
                {
                    double pt = Math.Exp(lt[i]);
                    loss += pt * ((kind == DivergenceKind.ForwardKl ? lt[i] : 0) - ls[i]);
                    g[i] = -pt;
                }

                break;
            case DivergenceKind.ReverseKl:
                for (int i = 0; i < n; i++)
                {
                    double ps = Math.Exp(ls[i]);
                    loss += ps * (ls[i] - lt[i]);
                    g[i] = (ps * (ls[i] - lt[i])) + ps;
                }

                break;
            default:
                if (beta == 0)
                {
                    return RowLoss(DivergenceKind.ForwardKl, ls, lt, 0);
                }

                if (beta == 1)
                {
                    return RowLoss(DivergenceKind.ReverseKl, ls, lt, 0);
                }

                for (int i = 0; i < n; i++)
                {
                    double ps = Math.Exp(ls[i]), pt = Math.Exp(lt[i]);
                    double m = (beta * pt) + ((1 - beta) * ps);
                    double lm = Math.Log(m);
                    loss += (beta * (pt > 0 ? pt * (lt[i] - lm) : 0)) + ((1 - beta) * (ps > 0 ? ps * (ls[i] - lm) : 0));
                    double dm = (1 - beta) * ps; // ∂m/∂ls
                    g[i] = m == 0 ? 0 : (-beta * pt * dm / m) + ((1 - beta) * ((ps * (ls[i] - lm)) + ps - (ps * dm / m)));
                }

                break;
        }

        return (loss, g);
    }

    /// <summary>dL/du from G through log-softmax: G − p·ΣG.</summary>
    public static double[] ThroughLogSoftmax(double[] ls, double[] g)
    {
        double total = g.Sum();
        var result = new double[ls.Length];
        for (int i = 0; i < ls.Length; i++)
        {
            result[i] = g[i] - (Math.Exp(ls[i]) * total);
        }

        return result;
    }

    /// <summary>Summed (unnormalised, unscaled) loss of a batch and d(sum)/d(student logits).</summary>
    public static (double Loss, double[] Gradient, double[] RowLosses) Divergence(DivergenceKind kind, float[] student, float[] teacher, int classes, double temperature, double beta)
    {
        int rows = student.Length / classes;
        var gradient = new double[student.Length];
        var rowLosses = new double[rows];
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            double[] ls = LogSoftmax(student.AsSpan(r * classes, classes), temperature);
            double[] lt = LogSoftmax(teacher.AsSpan(r * classes, classes), temperature);
            (double loss, double[] g) = RowLoss(kind, ls, lt, beta);
            double[] du = ThroughLogSoftmax(ls, g);
            for (int i = 0; i < classes; i++)
            {
                gradient[(r * classes) + i] = du[i] / temperature;
            }

            rowLosses[r] = loss;
            total += loss;
        }

        return (total, gradient, rowLosses);
    }

    /// <summary>Hinton objective, with the hard-label CE at temperature 1; returns (KL sum, CE sum, d(total)/ds) for a divisor.</summary>
    public static (double Kl, double Ce, double[] Gradient) Hinton(float[] student, float[] teacher, int[] labels, int classes, double temperature, double alpha, double divisor)
    {
        (double kl, double[] klGradient, _) = Divergence(DivergenceKind.ForwardKl, student, teacher, classes, temperature, 0);
        double ce = 0;
        var gradient = new double[student.Length];
        for (int r = 0; r < labels.Length; r++)
        {
            double[] ls = LogSoftmax(student.AsSpan(r * classes, classes), 1);
            ce -= ls[labels[r]];
            for (int i = 0; i < classes; i++)
            {
                double hard = Math.Exp(ls[i]) - (i == labels[r] ? 1 : 0);
                gradient[(r * classes) + i] = ((alpha * temperature * temperature * klGradient[(r * classes) + i]) + ((1 - alpha) * hard)) / divisor;
            }
        }

        return (kl, ce, gradient);
    }

    /// <summary>DKD from its definition: binary split in log space, NCKD as the KL of the non-target log-softmaxes; summed, times T².</summary>
    public static double DecoupledKd(float[] student, float[] teacher, int[] labels, int classes, double temperature, double alpha, double beta)
    {
        double total = 0;
        for (int r = 0; r < labels.Length; r++)
        {
            int y = labels[r];
            if (classes == 1)
            {
                continue;
            }

            double[] ls = LogSoftmax(student.AsSpan(r * classes, classes), temperature);
            double[] lt = LogSoftmax(teacher.AsSpan(r * classes, classes), temperature);
            float[] studentRest = student.AsSpan(r * classes, classes).ToArray().Where((_, i) => i != y).ToArray();
            float[] teacherRest = teacher.AsSpan(r * classes, classes).ToArray().Where((_, i) => i != y).ToArray();
            double logStudentRest = LogSumExpOf(ls.Where((_, i) => i != y));
            double logTeacherRest = LogSumExpOf(lt.Where((_, i) => i != y));
            double tckd = Kl(lt[y], ls[y]) + Kl(logTeacherRest, logStudentRest);
            double[] lqs = LogSoftmax(studentRest, temperature);
            double[] lqt = LogSoftmax(teacherRest, temperature);
            double nckd = 0;
            for (int i = 0; i < lqs.Length; i++)
            {
                nckd += Math.Exp(lqt[i]) * (lqt[i] - lqs[i]);
            }

            total += (alpha * tckd) + (beta * nckd);
        }

        return total * temperature * temperature;

        static double Kl(double logP, double logQ) => Math.Exp(logP) > 0 ? Math.Exp(logP) * (logP - logQ) : 0;

        static double LogSumExpOf(IEnumerable<double> values)
        {
            double max = values.Max();
            return max + Math.Log(values.Sum(v => Math.Exp(v - max)));
        }
    }

    /// <summary>Sparse top-k KL/CE of one row, straight from the definition (teacher distribution over k or k+1 buckets).</summary>
    public static double SparseRow(ReadOnlySpan<float> student, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, double temperature, TopKValueKind valueKind, TopKMassTreatment treatment, bool crossEntropy)
    {
        double[] ls = LogSoftmax(student, temperature);
        int k = indices.Length;
        var p = new double[k];
        if (valueKind == TopKValueKind.Logits)
        {
            double[] lt = LogSoftmax(values, temperature);
            for (int i = 0; i < k; i++)
            {
                p[i] = Math.Exp(lt[i]);
            }
        }
        else
        {
            for (int i = 0; i < k; i++)
            {
                p[i] = Math.Exp(values[i]);
            }
        }

        double mass = p.Sum();
        double leftover = 0;
        if (treatment == TopKMassTreatment.Renormalize)
        {
            for (int i = 0; i < k; i++)
            {
                p[i] /= mass;
            }
        }
        else
        {
            leftover = Math.Max(0, 1 - mass);
        }

        double loss = 0;
        var inTopK = new bool[student.Length];
        for (int i = 0; i < k; i++)
        {
            inTopK[indices[i]] = true;
            loss += p[i] > 0 ? p[i] * ((crossEntropy ? 0 : Math.Log(p[i])) - ls[indices[i]]) : 0;
        }

        if (leftover > 0)
        {
            double rest = 0;
            for (int j = 0; j < student.Length; j++)
            {
                rest += inTopK[j] ? 0 : Math.Exp(ls[j]);
            }

            loss += leftover * ((crossEntropy ? 0 : Math.Log(leftover)) - Math.Log(Math.Max(rest, 1e-30)));
        }

        return loss;
    }

    /// <summary>Central finite differences of a double loss with respect to each input.</summary>
    public static double[] FiniteDifferences(float[] input, Func<float[], double> loss, double step = 1e-3)
    {
        var result = new double[input.Length];
        var copy = (float[])input.Clone();
        for (int i = 0; i < input.Length; i++)
        {
            float original = copy[i];
            float up = original + (float)step, down = original - (float)step;
            copy[i] = up;
            double lossUp = loss(copy);
            copy[i] = down;
            double lossDown = loss(copy);
            copy[i] = original;
            result[i] = (lossUp - lossDown) / ((double)up - down);
        }

        return result;
    }
}
