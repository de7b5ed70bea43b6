using System.Runtime.Intrinsics;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Tests.Kernels;

public sealed class FastExpTests
{
    /// <summary>The largest error in ulp of the result, over the whole range the kernels use ([-87.3, 0]) and up to 88.</summary>
    public const double MaxUlpError = 1;

    [Fact]
    public void Exp_IsWithinOneUlp_OverTheWholeNormalRange()
    {
        double worst = 0;
        float worstAt = 0;
        // Walk the float bit patterns of [-87.3, 88] with a stride: about 4 million inputs, both signs.
        foreach (var (from, to) in new[] { (0f, 88f), (-0f, -87.3f) })
        {
            int start = BitConverter.SingleToInt32Bits(from), end = BitConverter.SingleToInt32Bits(to);
            for (long bits = start; bits <= end; bits += 523)
            {
                float x = BitConverter.Int32BitsToSingle((int)bits);
                double exact = Math.Exp(x);
                float approx = FastExp.Exp(x);
                double ulp = Math.Abs(approx - exact) / UlpOf((float)exact);
                if (ulp > worst)
                {
                    worst = ulp;
                    worstAt = x;
                }
            }
        }

        worst.Should().BeLessThanOrEqualTo(MaxUlpError, $"worst at x = {worstAt:R}");
    }

    [Fact]
    public void Exp_FlushesBelowTheNormalRange_AndSaturatesAbove()
    {
        FastExp.Exp(-100f).Should().Be(0f);
        FastExp.Exp(float.NegativeInfinity).Should().Be(0f);
        FastExp.Exp(0f).Should().Be(1f);
        float.IsFinite(FastExp.Exp(1000f)).Should().BeTrue();
    }

    [Fact]
    public void VectorPaths_AreBitIdenticalToTheScalarPath()
    {
        var random = new Random(7);
        for (int trial = 0; trial < 2000; trial++)
        {
            float x = (float)((random.NextDouble() * 180) - 90);
            float scalar = FastExp.Exp(x);
            Vector128Ops.Exp(Vector128.Create(x)).GetElement(0).Should().Be(scalar);
            Vector256Ops.Exp(Vector256.Create(x)).GetElement(3).Should().Be(scalar);
            Vector512Ops.Exp(Vector512.Create(x)).GetElement(11).Should().Be(scalar);
        }
    }

    private static double UlpOf(float value) =>
        value == 0 ? float.Epsilon : Math.Abs((double)MathF.BitIncrement(Math.Abs(value)) - Math.Abs(value));
}
