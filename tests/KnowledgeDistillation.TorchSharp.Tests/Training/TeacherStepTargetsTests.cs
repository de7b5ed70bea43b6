using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.TorchSharp.Teachers;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.Training;

public sealed class TeacherStepTargetsTests
{
    [Fact]
    public void TensorTargets_AreReadInPlace_AndCpuTargetsBecomeTensors()
    {
        TorchSharpRuntime.EnsureInitialized();
        using var scope = torch.NewDisposeScope();
        Tensor logits = torch.tensor(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        TeacherStepTargets onDevice = TeacherStepTargets.OnDevice(() => new TeacherTensors(logits, null, null, TopKValueKind.Logits, new Dictionary<string, Tensor>()));
        Action early = () => _ = onDevice.Kind;
        early.Should().Throw<InvalidOperationException>().WithMessage("*Prepare()*");
        onDevice.Prepare();
        onDevice.DenseLogitsOnCpu().ToArray().Should().Equal(1, 2, 3, 4, 5, 6);
        using (Scalar two = 2.ToScalar())
        {
            logits.mul_(two);
        }
        onDevice.DenseLogitsOnCpu().ToArray().Should().Equal([2, 4, 6, 8, 10, 12], "the kernels read the tensor's own storage, not a copy");

        TeacherStepTargets cpu = TeacherStepTargets.FromCpu(TeacherTargets.Sparse(2, 3, 2, new int[] { 2, 1, 0, 2 }, new float[] { -0.1f, -2f, -0.3f, -1f }, TopKValueKind.LogProbabilities));
        cpu.Prepare();
        cpu.Kind.Should().Be(TeacherTargetKinds.TopK);
        (Tensor indices, Tensor values) = cpu.TopKTensors(CPU);
        indices.dtype.Should().Be(ScalarType.Int64);
        indices.data<long>().ToArray().Should().Equal(2, 1, 0, 2);
        values.shape.Should().Equal(2, 2);
        cpu.TopKIndicesOnCpu().ToArray().Should().Equal(2, 1, 0, 2);
        Action dense = () => cpu.DenseLogits(CPU);
        dense.Should().Throw<InvalidOperationException>().WithMessage("*no dense logits*");
    }
}
