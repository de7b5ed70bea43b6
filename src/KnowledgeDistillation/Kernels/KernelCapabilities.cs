using System.Numerics;
using System.Runtime.Intrinsics;

namespace KnowledgeDistillation.Kernels;

/// <summary>Which SIMD widths the CPU kernels can use on this machine.</summary>
public static class KernelCapabilities
{
    /// <summary>True when 128-bit vectors are hardware accelerated (SSE/NEON).</summary>
    public static bool Vector128Accelerated => Vector128.IsHardwareAccelerated;

    /// <summary>True when 256-bit vectors are hardware accelerated (AVX2).</summary>
    public static bool Vector256Accelerated => Vector256.IsHardwareAccelerated;

    /// <summary>True when 512-bit vectors are hardware accelerated (AVX-512) and the runtime chose to use them.</summary>
    public static bool Vector512Accelerated => Vector512.IsHardwareAccelerated;

    /// <summary>The widest accelerated vector width in bits (0 when only scalar code runs).</summary>
    public static int PreferredVectorBits =>
        Vector512Accelerated ? 512 : Vector256Accelerated ? 256 : Vector128Accelerated ? 128 : 0;

    /// <summary>The width of <see cref="Vector{T}"/> in bits, which some TensorPrimitives paths use.</summary>
    public static int VectorTBits => Vector<byte>.Count * 8;

    /// <summary>A one-line summary such as <c>Vector128 yes, Vector256 yes, Vector512 no (widest: 256-bit)</c>.</summary>
    public static string Describe() =>
        $"Vector128 {YesNo(Vector128Accelerated)}, Vector256 {YesNo(Vector256Accelerated)}, Vector512 {YesNo(Vector512Accelerated)} (widest: {PreferredVectorBits}-bit)";

    private static string YesNo(bool value) => value ? "yes" : "no";
}
