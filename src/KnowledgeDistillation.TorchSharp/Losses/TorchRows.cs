using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Losses;

// Row reductions shared by the TorchSharp forms: masked rows contribute nothing (masked_fill, not a multiply: a masked
// row's value could be huge, and 0 · ∞ is NaN).
internal static class TorchRows
{
    public static Tensor Sum(Tensor rows, Tensor? mask, double scale)
    {
        using Scalar s = scale.ToScalar();
        if (mask is null)
        {
            return rows.sum().mul(s);
        }
        using Scalar zero = 0.ToScalar();
        return rows.masked_fill(mask.logical_not(), zero).sum().mul(s);
    }

    public static Tensor CrossEntropy(Tensor logits, Tensor labels, Tensor? mask, float normalizer) =>
        Sum(nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.None), mask, 1.0 / normalizer);

    public static Tensor Weighted(Tensor a, float wa, Tensor b, float wb)
    {
        using Scalar sa = wa.ToScalar();
        using Scalar sb = wb.ToScalar();
        return a.mul(sa).add(b.mul(sb), TorchScalars.One);
    }

    public static float Alpha(float alpha)
    {
        if (!(alpha >= 0 && alpha <= 1))
        {
            throw new ArgumentOutOfRangeException("alpha schedule", alpha, "α (alpha schedule) must be in [0, 1]; it weighs the distillation term against the hard-label term.");
        }
        return alpha;
    }

    public static float Temperature(float temperature)
    {
        if (!(temperature > 0) || !float.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException("temperature schedule", temperature, "The temperature (temperature schedule) must be a positive, finite number (typical values 1 to 8).");
        }
        return temperature;
    }

    public static Tensor RequireDense(in TorchLossInputs inputs, string loss)
    {
        if (inputs.TeacherLogits is { } t)
        {
            if (t.shape[1] != inputs.ClassCount)
            {
                throw new ArgumentException($"Loss '{loss}' compares teacher and student over the same classes, but the teacher has {t.shape[1]} and the student {inputs.ClassCount}. For language models whose vocabularies differ use TokenDistillationLoss.", "inputs");
            }
            return t.detach();
        }
        throw new ArgumentException(inputs.TeacherTopKIndices is not null
            ? $"Loss '{loss}' needs dense teacher logits, but the teacher targets are top-k. Use a loss that accepts top-k targets (hinton-topk), or a dense teacher cache."
            : $"Loss '{loss}' needs teacher logits, but none were given. Configure a teacher or use a hard-label loss.", "inputs");
    }

    public static IReadOnlyDictionary<string, float> NoParameters { get; } = new Dictionary<string, float>();
}
