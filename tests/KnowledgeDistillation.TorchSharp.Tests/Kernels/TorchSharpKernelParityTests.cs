using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.Kernels;

/// <summary>
/// The fused kernels give the same loss and gradient as libtorch's kl_div(log_softmax(s/T), log_softmax(t/T), log_target: true).
/// TorchSharp's kl_div defaults to log_target = true and has no batchmean, so batchmean is Sum / rows.
/// </summary>
public sealed class TorchSharpKernelParityTests
{
    [Theory]
    [InlineData(4, 10, 1f, LossReduction.Sum)]
    [InlineData(4, 257, 2f, LossReduction.BatchMean)]
    [InlineData(3, 1000, 4f, LossReduction.Mean)]
    [InlineData(2, 32000, 0.5f, LossReduction.BatchMean)]
    public void ForwardKl_MatchesLibTorch_LossAndGradient(int rows, int classes, float temperature, LossReduction reduction)
    {
        TorchSharpRuntime.EnsureInitialized();
        var random = new Random(classes);
        float[] student = Enumerable.Range(0, rows * classes).Select(_ => (float)((random.NextDouble() - 0.5) * 8)).ToArray();
        float[] teacher = Enumerable.Range(0, rows * classes).Select(_ => (float)((random.NextDouble() - 0.5) * 8)).ToArray();
        var gradient = new float[student.Length];
        float loss = DistillationPrimitives.DivergenceWithGradient(student, teacher, classes, temperature, DivergenceKind.ForwardKl, gradient, new KernelOptions { Reduction = reduction });

        using var scope = NewDisposeScope();
        Tensor s = tensor(student, rows, classes).requires_grad_();
        Tensor t = tensor(teacher, rows, classes);
        Tensor logStudent = nn.functional.log_softmax(s / temperature, 1);
        Tensor logTeacher = nn.functional.log_softmax(t / temperature, 1);
        Tensor torchLoss = reduction switch
        {
            LossReduction.Sum => nn.functional.kl_div(logStudent, logTeacher, reduction: nn.Reduction.Sum, log_target: true),
            LossReduction.Mean => nn.functional.kl_div(logStudent, logTeacher, reduction: nn.Reduction.Mean, log_target: true),
            _ => nn.functional.kl_div(logStudent, logTeacher, reduction: nn.Reduction.Sum, log_target: true) / rows,
        };
        torchLoss.backward();
        float expected = torchLoss.item<float>();
        float[] expectedGradient = s.grad!.data<float>().ToArray();

        // libtorch accumulates in float too, so the tolerance covers both sides' rounding.
        loss.Should().BeApproximately(expected, (1e-5f * Math.Abs(expected)) + (2e-6f * rows));
        for (int i = 0; i < gradient.Length; i++)
        {
            gradient[i].Should().BeApproximately(expectedGradient[i], 1e-6f + (1e-4f * Math.Abs(expectedGradient[i])), $"gradient[{i}]");
        }
    }
}
