using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Tests.Sequences;

/// <summary>Independent double-precision references for the sequence losses (written from the definitions, no kernels).</summary>
internal static class SequenceReference
{
    public static double[] Softmax(ReadOnlySpan<float> logits, double temperature)
    {
        double max = double.NegativeInfinity;
        foreach (float x in logits)
        {
            max = Math.Max(max, x / temperature);
        }

        var p = new double[logits.Length];
        double sum = 0;
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = Math.Exp((logits[i] / temperature) - max);
            sum += p[i];
        }

        for (int i = 0; i < p.Length; i++)
        {
            p[i] /= sum;
        }

        return p;
    }

    public static double Divergence(double[] teacher, double[] student, DivergenceKind kind, double beta)
    {
        if (kind == DivergenceKind.JensenShannon && beta == 0)
        {
            kind = DivergenceKind.ForwardKl;
        }
        else if (kind == DivergenceKind.JensenShannon && beta == 1)
        {
            kind = DivergenceKind.ReverseKl;
        }

        double loss = 0;
        for (int i = 0; i < teacher.Length; i++)
        {
            double pt = teacher[i];
            double ps = student[i];
            loss += kind switch
            {
                DivergenceKind.ForwardKl => pt > 0 ? pt * (Math.Log(pt) - Math.Log(ps)) : 0,
                DivergenceKind.SoftTargetCrossEntropy => pt > 0 ? -pt * Math.Log(ps) : 0,
                DivergenceKind.ReverseKl => ps > 0 ? ps * (Math.Log(ps) - Math.Log(pt)) : 0,
                _ => Jsd(pt, ps, beta),
            };
        }

        return loss;
    }

    private static double Jsd(double pt, double ps, double beta)
    {
        double m = (beta * pt) + ((1 - beta) * ps);
        double a = pt > 0 ? pt * Math.Log(pt / m) : 0;
        double b = ps > 0 ? ps * Math.Log(ps / m) : 0;
        return (beta * a) + ((1 - beta) * b);
    }

    /// <summary>Dense loss: Σ over valid tokens of D(p_t ‖ p_s) on the first <paramref name="vocabulary"/> columns, × T² / N.</summary>
    public static double Dense(float[] student, int studentVocabulary, float[] teacher, int teacherVocabulary, bool[] mask, int vocabulary, DivergenceKind kind, double temperature, double beta, double normalizer)
    {
        double total = 0;
        for (int token = 0; token < mask.Length; token++)
        {
            if (!mask[token])
            {
                continue;
            }

            double[] ps = Softmax(student.AsSpan(token * studentVocabulary, vocabulary), temperature);
            double[] pt = Softmax(teacher.AsSpan(token * teacherVocabulary, vocabulary), temperature);
            total += Divergence(pt, ps, kind, beta);
        }

        return total * temperature * temperature / normalizer;
    }

    /// <summary>Sparse loss with teacher log-probabilities, as documented on SequenceDistillation.SparseWithGradient.</summary>
    public static double Sparse(float[] student, int vocabulary, int[] indices, float[] logProbabilities, int k, bool[] mask, DivergenceKind kind, TopKMassTreatment treatment, double temperature, double beta, double normalizer)
    {
        double total = 0;
        for (int token = 0; token < mask.Length; token++)
        {
            if (!mask[token])
            {
                continue;
            }

            double[] ps = Softmax(student.AsSpan(token * vocabulary, vocabulary), temperature);
            var pt = new double[k];
            var psIdx = new double[k];
            for (int i = 0; i < k; i++)
            {
                pt[i] = Math.Exp(logProbabilities[(token * k) + i]);
                psIdx[i] = ps[indices[(token * k) + i]];
            }

            double teacherMass = pt.Sum();
            double studentMass = psIdx.Sum();
            bool forward = kind is DivergenceKind.ForwardKl or DivergenceKind.SoftTargetCrossEntropy;
            if (treatment == TopKMassTreatment.ExtraBucket)
            {
                double[] t = [.. pt, Math.Max(1 - teacherMass, 1e-30)];
                double[] s = [.. psIdx, Math.Max(1 - studentMass, 1e-30)];
                total += Divergence(t, s, kind, beta);
            }
            else if (forward)
            {
                // Renormalised teacher against the full-vocabulary student probabilities at the indices.
                double[] t = pt.Select(p => p / teacherMass).ToArray();
                total += Divergence(t, psIdx, kind, beta);
            }
            else
            {
                double[] t = pt.Select(p => p / teacherMass).ToArray();
                double[] s = psIdx.Select(p => p / studentMass).ToArray();
                total += Divergence(t, s, kind, beta);
            }
        }

        return total * temperature * temperature / normalizer;
    }

    /// <summary>Central finite differences of <paramref name="loss"/> with respect to every element of <paramref name="x"/>.</summary>
    public static double[] Gradient(float[] x, Func<float[], double> loss, float step = 1e-2f)
    {
        var gradient = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            float saved = x[i];
            x[i] = saved + step;
            double up = loss(x);
            x[i] = saved - step;
            double down = loss(x);
            x[i] = saved;
            gradient[i] = (up - down) / (2 * step);
        }

        return gradient;
    }
}
