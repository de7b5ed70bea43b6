namespace KnowledgeDistillation.Tests.Reference;

/// <summary>Comparisons of float32 results with double references, with messages that name the case.</summary>
internal static class Tolerance
{
    /// <summary>|actual − expected| ≤ relative·|expected| + absolute.</summary>
    public static void Close(double actual, double expected, double relative, double absolute, string what)
    {
        double error = Math.Abs(actual - expected);
        if (!(error <= (relative * Math.Abs(expected)) + absolute))
        {
            throw new Xunit.Sdk.XunitException($"{what}: got {actual:R}, expected {expected:R} (error {error:G3})");
        }
    }

    /// <summary>Every element within <paramref name="relative"/> of the row's largest expected magnitude (at least <paramref name="floor"/>).</summary>
    public static void RowClose(ReadOnlySpan<float> actual, double[] expected, double relative, double floor, string what)
    {
        if (actual.Length != expected.Length)
        {
            throw new Xunit.Sdk.XunitException($"{what}: {actual.Length} values, expected {expected.Length}");
        }
        double scale = Math.Max(floor, expected.Max(Math.Abs));
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            if (!(error <= relative * scale))
            {
                throw new Xunit.Sdk.XunitException($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R} (error {error:G3} > {relative * scale:G3}, {error / scale:G3} of the row)");
            }
        }
    }
}
