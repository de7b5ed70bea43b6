namespace KnowledgeDistillation.Tests.Kernels.Reference;

/// <summary>Seeded random logits and tolerance checks shared by the kernel tests.</summary>
internal static class TestData
{
    public static float[] Logits(Random random, int length, double scale = 3, double shift = 0)
    {
        var result = new float[length];
        for (int i = 0; i < length; i++)
        {
            // Roughly normal, so that softmax has a few dominant classes as real logits do.
            double normal = random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5;
            result[i] = (float)((normal * 2 * scale) + shift);
        }

        return result;
    }

    public static int[] Labels(Random random, int rows, int classes) => Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();

    public static float Temperature(Random random) => (float)(0.5 + (random.NextDouble() * 19.5));

    public static void Close(double actual, double expected, double relative, double absolute, string what)
    {
        double error = Math.Abs(actual - expected);
        double allowed = (relative * Math.Abs(expected)) + absolute;
        if (!(error <= allowed))
        {
            throw new Xunit.Sdk.XunitException($"{what}: got {actual:R}, expected {expected:R}, error {error:G3} > allowed {allowed:G3}");
        }
    }

    public static void AllClose(ReadOnlySpan<float> actual, double[] expected, double absolute, double relative, string what)
    {
        actual.Length.Should().Be(expected.Length, what);
        for (int i = 0; i < expected.Length; i++)
        {
            Close(actual[i], expected[i], relative, absolute, $"{what}[{i}]");
        }
    }
}
