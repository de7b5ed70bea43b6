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
        Tensor logPs = nn.functional.log_softmax(studentLogits / temperature, 1);
        Tensor logPt = nn.functional.log_softmax(teacherLogits.detach() / temperature, 1);
        // TorchSharp's kl_div defaults to log_target = true (PyTorch's to false) and has no batchmean: Sum / normalizer.
        Tensor kd = nn.functional.kl_div(logPs, logPt, reduction: nn.Reduction.Sum, log_target: true) * (temperature * temperature / normalizer);
        Tensor ce = nn.functional.cross_entropy(studentLogits, labels, reduction: nn.Reduction.Sum) / normalizer;
        return ((alpha * kd) + ((1 - alpha) * ce), kd, ce);
    }
}
