using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.Runtime;

public sealed class TorchSharpRuntimeTests
{
    [Fact]
    public void LibTorch_LoadsAndRunsAMatrixProductOnCpu()
    {
        TorchSharpRuntime.EnsureInitialized();
        TorchSharpRuntime.LibTorchVersion.Should().StartWith("2.");

        using var scope = NewDisposeScope();
        Tensor a = tensor(new float[] { 1, 2, 3, 4 }, 2, 2);
        Tensor b = tensor(new float[] { 5, 6, 7, 8 }, 2, 2);
        Tensor c = matmul(a, b);

        c.device_type.Should().Be(DeviceType.CPU);
        c.data<float>().ToArray().Should().Equal(19f, 22f, 43f, 50f);
    }

    [Fact]
    public void Autograd_ComputesGradientOnCpu()
    {
        TorchSharpRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        Tensor x = tensor(new float[] { 1, 2, 3 }, requires_grad: true);
        (x * x).sum().backward();
        x.grad!.data<float>().ToArray().Should().Equal(2f, 4f, 6f);
    }

    [Theory]
    [InlineData("cpu", DeviceChoiceKind.Cpu, 0)]
    [InlineData("CPU", DeviceChoiceKind.Cpu, 0)]
    [InlineData("auto", DeviceChoiceKind.Auto, 0)]
    [InlineData("cuda", DeviceChoiceKind.Cuda, 0)]
    [InlineData("cuda:3", DeviceChoiceKind.Cuda, 3)]
    public void DeviceChoice_Parses(string text, DeviceChoiceKind kind, int index)
    {
        DeviceChoice.Parse(text).Should().Be(new DeviceChoice(kind, index));
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("mps")]
    public void DeviceChoice_RejectsUnknownNames(string text)
    {
        Action act = () => DeviceChoice.Parse(text);
        act.Should().Throw<ArgumentException>().WithMessage($"*'{text}'*auto*cpu*cuda*");
    }

    [Fact]
    public void DeviceChoice_Resolve_FallsBackToCpuWithoutGpus_AndPicksCudaWithThem()
    {
        DeviceChoice.Parse("auto").Resolve(0).type.Should().Be(DeviceType.CPU);
        DeviceChoice.Parse("auto").Resolve(2).type.Should().Be(DeviceType.CUDA);
        Device d = DeviceChoice.Parse("cuda:1").Resolve(2);
        d.type.Should().Be(DeviceType.CUDA);
        d.index.Should().Be(1);
    }

    [Fact]
    public void DeviceChoice_Resolve_CudaWithoutGpu_ThrowsClearly()
    {
        Action none = () => DeviceChoice.Parse("cuda").Resolve(0);
        none.Should().Throw<ArgumentException>().WithMessage("*CUDA is not available*");
        Action tooHigh = () => DeviceChoice.Parse("cuda:2").Resolve(2);
        tooHigh.Should().Throw<ArgumentException>().WithMessage("*only 2 CUDA device(s)*");
    }

    [Fact]
    public void ResolveDevice_OnThisMachine_MatchesCudaAvailability()
    {
        Device d = TorchSharpRuntime.ResolveDevice("auto");
        d.type.Should().Be(TorchSharpRuntime.CudaAvailable ? DeviceType.CUDA : DeviceType.CPU);
    }
}
