using System.Runtime.Intrinsics;
using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Tests.Kernels;

public sealed class KernelCapabilitiesTests
{
    [Fact]
    public void PreferredVectorBits_IsTheWidestAcceleratedWidth()
    {
        int expected = Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 0;
        KernelCapabilities.PreferredVectorBits.Should().Be(expected);
        KernelCapabilities.Describe().Should().Contain($"widest: {expected}-bit");
    }
}
