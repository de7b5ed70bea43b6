using System.Runtime.CompilerServices;

namespace KnowledgeDistillation.Kernels.Simd;

/// <summary>
/// A fast single-precision exp(x): Cody–Waite reduction x = n·ln2 + r with |r| ≤ ln2/2, a degree-7 Taylor polynomial
/// for e^r (truncation below 5.2e-9 relative) and the 2^n scale built in the exponent bits.
/// Inputs are clamped to [-88, 88]; results below 2^-126·0.7 (about 8e-39) flush to zero, which softmax never notices.
/// Measured maximum error (FastExpTests, ~4M inputs against Math.Exp): 0.92 ulp over [-87.3, 88] for normal results.
/// </summary>
internal static class FastExp
{
    internal const float MinInput = -88f;
    internal const float MaxInput = 88f;
    internal const float Log2E = 1.44269504088896341f;

    // 1.5 * 2^23: adding it rounds to the nearest integer and leaves that integer in the low mantissa bits.
    internal const float RoundingMagic = 12582912f;

    // ln 2 split so that n * Ln2High is exact for |n| < 2^9.
    internal const float Ln2High = 0.693145751953125f;
    internal const float Ln2Low = 1.42860677e-06f;

    internal const float C7 = 1f / 5040f;
    internal const float C6 = 1f / 720f;
    internal const float C5 = 1f / 120f;
    internal const float C4 = 1f / 24f;
    internal const float C3 = 1f / 6f;
    internal const float C2 = 0.5f;

    /// <summary>The scalar path: bit-for-bit the same algorithm as the vector paths.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Exp(float x)
    {
        x = MathF.Min(MathF.Max(x, MinInput), MaxInput);
        float shifted = MathF.FusedMultiplyAdd(x, Log2E, RoundingMagic);
        float n = shifted - RoundingMagic;
        float r = MathF.FusedMultiplyAdd(n, -Ln2High, x);
        r = MathF.FusedMultiplyAdd(n, -Ln2Low, r);
        float p = MathF.FusedMultiplyAdd(C7, r, C6);
        p = MathF.FusedMultiplyAdd(p, r, C5);
        p = MathF.FusedMultiplyAdd(p, r, C4);
        p = MathF.FusedMultiplyAdd(p, r, C3);
        p = MathF.FusedMultiplyAdd(p, r, C2);
        p = MathF.FusedMultiplyAdd(p, r, 1f);
        p = MathF.FusedMultiplyAdd(p, r, 1f);
        int bits = (BitConverter.SingleToInt32Bits(shifted) + 127) << 23;
        return p * BitConverter.Int32BitsToSingle(bits);
    }
}
