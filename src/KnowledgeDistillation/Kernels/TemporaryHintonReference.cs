// TEMPORARY scalar reference of the fused Hinton kernel so the trainer can be built while the SIMD kernels
// (issue 8) are written on another branch. Deleted when that branch is merged.
namespace KnowledgeDistillation.Kernels;

/// <summary>Per-batch value of the Hinton objective and its two parts (each already divided by the normalizer).</summary>
/// <param name="Total">α·Distillation + (1−α)·HardLabel.</param>
/// <param name="Distillation">T²·Σ KL(p_t^T ‖ p_s^T) / normalizer.</param>
/// <param name="HardLabel">Σ CE(y, p_s) / normalizer.</param>
public readonly record struct HintonLossValue(float Total, float Distillation, float HardLabel);

/// <summary>Distillation kernels.</summary>
public static partial class DistillationPrimitives
{
    /// <summary>Fused Hinton loss and gradient (temporary scalar reference).</summary>
    public static HintonLossValue HintonLossWithGradient(
        ReadOnlySpan<float> studentLogits, ReadOnlySpan<float> teacherLogits, ReadOnlySpan<int> labels,
        int classes, float temperature, float alpha, Span<float> studentGradient,
        float? normalizer = null, bool checkFinite = true, int maxDegreeOfParallelism = 1)
    {
        _ = checkFinite;
        _ = maxDegreeOfParallelism;
        int rows = labels.Length;
        if (studentLogits.Length != rows * classes || teacherLogits.Length != rows * classes || studentGradient.Length != rows * classes)
        {
            throw new ArgumentException("Length mismatch.", nameof(studentLogits));
        }
        double norm = normalizer ?? rows;
        double kdSum = 0, ceSum = 0;
        double t = temperature;
        var ps = new double[classes];
        var pt = new double[classes];
        var p1 = new double[classes];
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> s = studentLogits.Slice(r * classes, classes);
            ReadOnlySpan<float> te = teacherLogits.Slice(r * classes, classes);
            double ms = double.MinValue, mt = double.MinValue, m1 = double.MinValue;
            for (int c = 0; c < classes; c++)
            {
                ms = Math.Max(ms, s[c] / t);
                mt = Math.Max(mt, te[c] / t);
                m1 = Math.Max(m1, s[c]);
            }
            double zs = 0, zt = 0, z1 = 0;
            for (int c = 0; c < classes; c++)
            {
                ps[c] = Math.Exp((s[c] / t) - ms);
                zs += ps[c];
                pt[c] = Math.Exp((te[c] / t) - mt);
                zt += pt[c];
                p1[c] = Math.Exp(s[c] - m1);
                z1 += p1[c];
            }
            double kl = 0;
            for (int c = 0; c < classes; c++)
            {
                ps[c] /= zs;
                pt[c] /= zt;
                p1[c] /= z1;
                if (pt[c] > 0)
                {
                    kl += pt[c] * (Math.Log(pt[c]) - Math.Log(Math.Max(ps[c], double.Epsilon)));
                }
            }
            kdSum += t * t * kl;
            ceSum -= Math.Log(Math.Max(p1[labels[r]], double.Epsilon));
            for (int c = 0; c < classes; c++)
            {
                double g = (alpha * t * (ps[c] - pt[c])) + ((1 - alpha) * (p1[c] - (c == labels[r] ? 1 : 0)));
                studentGradient[(r * classes) + c] = (float)(g / norm);
            }
        }
        float kd = (float)(kdSum / norm), ce = (float)(ceSum / norm);
        return new HintonLossValue((alpha * kd) + ((1 - alpha) * ce), kd, ce);
    }
}
