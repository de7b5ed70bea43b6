using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Tests.Reference;

/// <summary>
/// An independent double-precision reference of the dense, sparse top-k and sequence losses on one row, written from
/// their definitions: every log-normaliser is taken relative to its row maximum (so rows at mask values, at ±1e4 or
/// shifted by ±3000 are exact), the student's leftover mass ρ outside the top-k is summed relative to its own maximum, and
/// gradients come from the generic chain rule through the buckets (∂ log p_i/∂s_j = (δ − p_j)/T, ∂ log ρ/∂s_j =
/// ([j outside] p_j/ρ − p_j)/T), not from the implementations' closed forms. The leftover's log is floored at log 1e-30
/// in the value and not in the gradient (the documented straight-through clamp). Losses are per row, unscaled (no T², no
/// normaliser). Shared by the kernel, sequence and TorchSharp tests.
/// </summary>
internal static class SparseReference
{
    /// <summary>log 1e-30, the floor of the student's leftover log-mass in the value.</summary>
    public static readonly double LogFloor = Math.Log(1e-30);

    /// <summary>Log-softmax relative to the maximum; −∞ entries stay −∞.</summary>
    public static double[] LogSoftmax(IReadOnlyList<double> x)
    {
        double max = x.Max();
        double sum = x.Sum(v => Math.Exp(v - max));
        double logSum = Math.Log(sum);
        return [.. x.Select(v => (v - max) - logSum)];
    }

    /// <summary>D(softmax(t/T) ‖ softmax(s/T)) and its gradient with respect to s.</summary>
    public static (double Loss, double[] Gradient) DenseRow(float[] student, float[] teacher, double temperature, DivergenceKind kind, double beta)
    {
        double[] ls = LogSoftmax([.. student.Select(v => v / temperature)]);
        double[] lt = LogSoftmax([.. teacher.Select(v => v / temperature)]);
        (double loss, double[] g) = Divergence(kind, ls, lt, beta);
        double total = g.Sum();
        return (loss, [.. g.Select((gi, j) => (gi - (Math.Exp(ls[j]) * total)) / temperature)]);
    }

    /// <summary>
    /// The sparse loss of one row as the library defines it: forward KL / soft CE compare the teacher's (renormalised, or
    /// with its leftover bucket) probabilities with the student's full-vocabulary log-softmax at the indices (and its
    /// leftover); reverse KL and JSD compare the two as distributions over the same buckets.
    /// </summary>
    public static (double Loss, double[] Gradient) SparseRow(
        float[] student, int[] indices, float[] values, double temperature, TopKValueKind valueKind, TopKMassTreatment treatment, DivergenceKind kind, double beta)
    {
        int k = indices.Length, v = student.Length;
        bool bucket = treatment == TopKMassTreatment.ExtraBucket;
        bool forward = kind is DivergenceKind.ForwardKl or DivergenceKind.SoftTargetCrossEntropy || (kind == DivergenceKind.JensenShannon && beta == 0);

        // Student: log p_j over the full vocabulary, relative to the maximum.
        double[] ls = LogSoftmax([.. student.Select(x => x / temperature)]);
        double[] p = [.. ls.Select(Math.Exp)];
        var inside = new bool[v];
        foreach (int i in indices)
        {
            inside[i] = true;
        }
        double restMax = Enumerable.Range(0, v).Where(j => !inside[j]).Select(j => student[j] / temperature).DefaultIfEmpty(double.NegativeInfinity).Max();
        double restSum = Enumerable.Range(0, v).Where(j => !inside[j]).Sum(j => Math.Exp((student[j] / temperature) - restMax));
        double studentMax = student.Max() / temperature;
        double logZ = Math.Log(student.Sum(x => Math.Exp((x / temperature) - studentMax)));
        double logRest = double.IsNegativeInfinity(restMax) ? double.NegativeInfinity : (restMax - studentMax) + Math.Log(restSum) - logZ;
        // p_j / ρ for the ids outside the top-k: the student's share within its leftover.
        double[] share = [.. Enumerable.Range(0, v).Select(j => inside[j] || double.IsNegativeInfinity(restMax) ? 0 : Math.Exp((student[j] / temperature) - restMax) / restSum)];

        // Teacher over the buckets.
        double[] lt;
        double leftover = 0;
        if (valueKind == TopKValueKind.Logits)
        {
            lt = LogSoftmax([.. values.Select(x => x / temperature)]);
        }
        else if (!bucket)
        {
            lt = LogSoftmax([.. values.Select(x => (double)x)]);
        }
        else
        {
            lt = [.. values.Select(x => (double)x)];
            double max = lt.Max();
            double logMass = max + Math.Log(lt.Sum(x => Math.Exp(x - max)));
            leftover = Math.Max(0, -double.ExpM1(Math.Min(logMass, 0)));
        }

        // Student buckets b_m (log-probabilities at the indices, and the leftover) and G_m = ∂L/∂b_m.
        int width = bucket ? k + 1 : k;
        var b = new double[width];
        for (int i = 0; i < k; i++)
        {
            b[i] = ls[indices[i]];
        }
        if (bucket)
        {
            b[k] = Math.Max(logRest, LogFloor);
        }
        double loss;
        var g = new double[width];
        if (forward)
        {
            bool kl = kind != DivergenceKind.SoftTargetCrossEntropy;
            loss = 0;
            for (int i = 0; i < k; i++)
            {
                double pt = Math.Exp(lt[i]);
                loss += pt > 0 ? pt * ((kl ? lt[i] : 0) - b[i]) : 0;
                g[i] = -pt;
            }
            if (bucket && leftover > 0)
            {
                loss += leftover * ((kl ? Math.Log(leftover) : 0) - b[k]);
                g[k] = -leftover;
            }
        }
        else
        {
            double[] t = bucket ? [.. lt, Math.Log(Math.Max(leftover, 1e-30))] : lt;
            double[] tn = LogSoftmax(t);
            double[] bn = LogSoftmax(b);
            (loss, double[] gn) = Divergence(kind, bn, tn, beta);
            double total = gn.Sum();
            for (int m = 0; m < width; m++)
            {
                g[m] = gn[m] - (Math.Exp(bn[m]) * total);
            }
        }

        // Chain rule to the student logits.
        var gradient = new double[v];
        double sumG = g.Sum();
        for (int j = 0; j < v; j++)
        {
            double d = -p[j] * sumG;
            if (bucket)
            {
                d += g[k] * share[j];
            }
            gradient[j] = d;
        }
        for (int i = 0; i < k; i++)
        {
            gradient[indices[i]] += g[i];
        }
        for (int j = 0; j < v; j++)
        {
            gradient[j] /= temperature;
        }
        return (loss, gradient);
    }

    /// <summary>The divergence between log-probabilities and G = ∂L/∂(student log-probabilities), the teacher fixed.</summary>
    public static (double Loss, double[] G) Divergence(DivergenceKind kind, double[] ls, double[] lt, double beta)
    {
        if (kind == DivergenceKind.JensenShannon && beta == 0)
        {
            kind = DivergenceKind.ForwardKl;
        }
        else if (kind == DivergenceKind.JensenShannon && beta == 1)
        {
            kind = DivergenceKind.ReverseKl;
        }
        int n = ls.Length;
        var g = new double[n];
        double loss = 0;
        for (int i = 0; i < n; i++)
        {
            double ps = Math.Exp(ls[i]), pt = Math.Exp(lt[i]);
            switch (kind)
            {
                case DivergenceKind.ForwardKl:
                    loss += pt > 0 ? pt * (lt[i] - ls[i]) : 0;
                    g[i] = -pt;
                    break;
                case DivergenceKind.SoftTargetCrossEntropy:
                    loss += pt > 0 ? -pt * ls[i] : 0;
                    g[i] = -pt;
                    break;
                case DivergenceKind.ReverseKl:
                    loss += ps > 0 ? ps * (ls[i] - lt[i]) : 0;
                    g[i] = ps > 0 ? (ps * (ls[i] - lt[i])) + ps : 0;
                    break;
                default:
                    double m = (beta * pt) + ((1 - beta) * ps);
                    if (m == 0)
                    {
                        break;
                    }
                    double lm = Math.Log(m);
                    loss += (beta * (pt > 0 ? pt * (lt[i] - lm) : 0)) + ((1 - beta) * (ps > 0 ? ps * (ls[i] - lm) : 0));
                    double dm = (1 - beta) * ps;
                    g[i] = (-beta * pt * dm / m) + ((1 - beta) * ((ps > 0 ? ps * (ls[i] - lm) : 0) + ps - (ps * dm / m)));
                    break;
            }
        }
        return (loss, g);
    }
}
