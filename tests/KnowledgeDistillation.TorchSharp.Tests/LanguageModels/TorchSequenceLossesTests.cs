using FluentAssertions;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.TorchSharp.LanguageModels;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.TorchSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.LanguageModels;

/// <summary>
/// The TorchSharp-operations path (used on CUDA) and the fused-kernel path (CPU, itself tested against double-precision
/// references in the core tests) give the same loss and the same gradient through autograd.
/// </summary>
public sealed class TorchSequenceLossesTests
{
    public static TheoryData<DivergenceKind, bool, TopKMassTreatment> Cases()
    {
        var data = new TheoryData<DivergenceKind, bool, TopKMassTreatment>();
        foreach (DivergenceKind kind in new[] { DivergenceKind.ForwardKl, DivergenceKind.ReverseKl, DivergenceKind.JensenShannon })
        {
            data.Add(kind, false, TopKMassTreatment.ExtraBucket);
            data.Add(kind, true, TopKMassTreatment.ExtraBucket);
            data.Add(kind, true, TopKMassTreatment.Renormalize);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TorchOperations_AndFusedKernels_AgreeOnLossAndGradient(DivergenceKind kind, bool sparse, TopKMassTreatment treatment)
    {
        TorchSharpRuntime.EnsureInitialized();
        const int batch = 3, length = 5, vocabulary = 37, teacherVocabulary = 40, k = 6;
        torch.manual_seed(42);
        using var scope = NewDisposeScope();
        Tensor studentValues = torch.randn(batch, length, vocabulary).mul(2.ToScalar());
        Tensor teacher = torch.cat(new[] { torch.randn(batch, length, vocabulary).mul(2.ToScalar()), torch.full(batch, length, teacherVocabulary - vocabulary, -30f) }, 2);
        bool[] maskValues = Enumerable.Range(0, batch * length).Select(i => i % 4 != 3).ToArray();
        Tensor mask = torch.tensor(maskValues, new long[] { batch, length });
        var options = new SequenceLossOptions { Kind = kind, Temperature = 2f, JsdBeta = 0.3f, TopKTreatment = treatment, VocabularySize = vocabulary };
        (Tensor values, Tensor indices) = nn.functional.log_softmax(teacher, 2).topk(k, 2);

        (float Loss, float[] Gradient) Run(LogitLossPath path)
        {
            Tensor s = studentValues.clone().requires_grad_();
            Tensor loss = sparse
                ? TorchSequenceLosses.SparseTopK(s, indices, values, TopKValueKind.LogProbabilities, mask, options, normalizer: 20f, path: path)
                : TorchSequenceLosses.Dense(s, teacher, mask, options, normalizer: 20f, path: path);
            loss.backward();
            return (loss.item<float>(), s.grad!.data<float>().ToArray());
        }

        (float kernelLoss, float[] kernelGradient) = Run(LogitLossPath.FusedCpuKernels);
        (float torchLoss, float[] torchGradient) = Run(LogitLossPath.TorchOperations);

        kernelLoss.Should().BeGreaterThan(0f);
        torchLoss.Should().BeApproximately(kernelLoss, 1e-4f + (1e-4f * kernelLoss));
        for (int i = 0; i < kernelGradient.Length; i++)
        {
            torchGradient[i].Should().BeApproximately(kernelGradient[i], 2e-5f, $"element {i}");
            if (!maskValues[i / vocabulary])
            {
                kernelGradient[i].Should().Be(0f);
            }
        }
    }

    [Fact]
    public void TorchOperations_RejectTeacherMassOnPaddedRows()
    {
        TorchSharpRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        Tensor student = torch.zeros(1, 2, 4);
        Tensor teacher = torch.zeros(1, 2, 6);
        Tensor mask = torch.tensor(new[] { true, true }, new long[] { 1, 2 });
        Action act = () => TorchSequenceLosses.Dense(student, teacher, mask, new SequenceLossOptions { VocabularySize = 4 }, path: LogitLossPath.TorchOperations);
        act.Should().Throw<InvalidOperationException>().WithMessage("*columns [4, 6)*VocabularySize*");
    }
}
