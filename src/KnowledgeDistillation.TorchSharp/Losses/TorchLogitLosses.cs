using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Losses;

/// <summary>
/// The logit losses written with TorchSharp operations (autograd through libtorch). Used on CUDA, where the
/// student's logits should not travel to the CPU; on the CPU the fused SIMD kernels are used instead, and a test
/// checks both agree.
/// </summary>
public static class TorchLogitLosses
{
    /// <summary>
    /// Hinton loss <c>α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1−α)·CE(y, s)</c>, both terms summed over rows and divided by
    /// <paramref name="normalizer"/>. Returns (total, kd, ce) as tensors; differentiate <c>total</c>.
    /// </summary>
    public static (Tensor Total, Tensor Distillation, Tensor HardLabel) Hinton(Tensor studentLogits, Tensor teacherLogits, Tensor labels, float temperature, float alpha, float normalizer)
    {
        ArgumentNullException.ThrowIfNull(studentLogits);
        ArgumentNullException.ThrowIfNull(teacherLogits);
        ArgumentNullException.ThrowIfNull(labels);
        // Explicit Scalars kept alive across the native calls (see StableOptimizer for the bug this avoids).
        using Scalar t = temperature.ToScalar();
        using Scalar kdScale = (temperature * temperature / normalizer).ToScalar();
        using Scalar inverseNormalizer = (1.0 / normalizer).ToScalar();
        using Scalar a = alpha.ToScalar();
        using Scalar oneMinusA = (1 - alpha).ToScalar();
        Tensor logPs = nn.functional.log_softmax(studentLogits.div(t), 1);
        Tensor logPt = nn.functional.log_softmax(teacherLogits.detach().div(t), 1);
        // TorchSharp's kl_div defaults to log_target = true (PyTorch's to false) and has no batchmean: Sum / normalizer.
        Tensor kd = nn.functional.kl_div(logPs, logPt, reduction: nn.Reduction.Sum, log_target: true).mul(kdScale);
        Tensor ce = nn.functional.cross_entropy(studentLogits, labels, reduction: nn.Reduction.Sum).mul(inverseNormalizer);
        return (kd.mul(a).add(ce.mul(oneMinusA), TorchScalars.One), kd, ce);
    }
}
