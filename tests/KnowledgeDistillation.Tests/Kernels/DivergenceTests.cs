using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Tests.Kernels.Reference;

namespace KnowledgeDistillation.Tests.Kernels;

/// <summary>
/// Tolerances: loss relative 1e-5 plus an absolute 1e-6 per row per unit of logit range / T (float rounding of
/// (x − max)/T, which no float kernel avoids); gradient absolute 1e-6 · (gradient scale) for normal ranges.
/// </summary>
public sealed class DivergenceTests
{
    public static TheoryData<DivergenceKind, float> Kinds => new()
    {
        { DivergenceKind.ForwardKl, 0.5f },
        { DivergenceKind.ReverseKl, 0.5f },
        { DivergenceKind.SoftTargetCrossEntropy, 0.5f },
        { DivergenceKind.JensenShannon, 0.5f },
        { DivergenceKind.JensenShannon, 0.1f },
        { DivergenceKind.JensenShannon, 0.9f },
        { DivergenceKind.JensenShannon, 0f },
        { DivergenceKind.JensenShannon, 1f },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void LossAndGradient_MatchTheReference_AtEveryLengthFrom1To256(DivergenceKind kind, float beta)
    {
        var random = new Random(((int)kind * 100) + (int)(beta * 10));
        for (int classes = 1; classes <= 256; classes++)
        {
            Check(random, kind, beta, rows: 2, classes, TestData.Temperature(random), scale: 3);
        }
    }

    [Theory]
    [InlineData(DivergenceKind.ForwardKl, 257)]
    [InlineData(DivergenceKind.ForwardKl, 32000)]
    [InlineData(DivergenceKind.ForwardKl, 151936)]
    [InlineData(DivergenceKind.ReverseKl, 32000)]
    [InlineData(DivergenceKind.JensenShannon, 32000)]
    [InlineData(DivergenceKind.SoftTargetCrossEntropy, 151936)]
    public void LossAndGradient_MatchTheReference_OnVocabularySizedRows(DivergenceKind kind, int classes) =>
        Check(new Random(classes), kind, 0.5f, rows: 2, classes, 2f, scale: 4);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ExtremeLogits_AllEqualRows_AndMixedScales_MatchTheReference(DivergenceKind kind, float beta)
    {
        var random = new Random(11);
        Check(random, kind, beta, rows: 2, classes: 50, temperature: 0.5f, scale: 1e4);
        Check(random, kind, beta, rows: 2, classes: 50, temperature: 20f, scale: 1e4);

        // All-equal rows and rows of very different scales in one batch.
        int classes = 97;
        float[] student = TestData.Logits(random, 4 * classes, 3);
        float[] teacher = TestData.Logits(random, 4 * classes, 3);
        Array.Fill(student, 5f, 0, classes);
        Array.Fill(teacher, -3f, 0, classes);
        for (int i = classes; i < 2 * classes; i++)
        {
            student[i] *= 1000;
            teacher[i] *= 1000;
        }

        for (int i = 2 * classes; i < 3 * classes; i++)
        {
            student[i] *= 1e-3f;
            teacher[i] = (teacher[i] * 1e-3f) + 500;
        }

        CheckBuffers(kind, beta, student, teacher, classes, 1.3f);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Gradient_MatchesFiniteDifferencesOfTheLoss(DivergenceKind kind, float beta)
    {
        var random = new Random(5);
        const int classes = 13;
        float temperature = 1.7f;
        float[] student = TestData.Logits(random, 2 * classes, 1);
        float[] teacher = TestData.Logits(random, 2 * classes, 1);
        var gradient = new float[student.Length];
        var options = new KernelOptions { Reduction = LossReduction.BatchMean, ScaleByTemperatureSquared = true, JsdBeta = beta };
        DistillationPrimitives.DivergenceWithGradient(student, teacher, classes, temperature, kind, gradient, options);

        double[] numeric = DoubleReference.FiniteDifferences(
            student,
            s => DoubleReference.Divergence(kind, s, teacher, classes, temperature, beta).Loss * temperature * temperature / 2);
        TestData.AllClose(gradient, numeric, 2e-5, 1e-3, $"{kind} gradient vs finite differences");
    }

    [Fact]
    public void Reductions_AndNormalizer_DivideTheSumAsDocumented()
    {
        var random = new Random(9);
        const int rows = 3, classes = 40;
        float[] student = TestData.Logits(random, rows * classes);
        float[] teacher = TestData.Logits(random, rows * classes);
        var rowLosses = new float[rows];
        float sum = DistillationPrimitives.KlDivergence(student, teacher, classes, 2f, new() { Reduction = LossReduction.Sum });
        float none = DistillationPrimitives.KlDivergence(student, teacher, classes, 2f, new() { Reduction = LossReduction.None }, rowLosses);
        float batchMean = DistillationPrimitives.KlDivergence(student, teacher, classes, 2f);
        float mean = DistillationPrimitives.KlDivergence(student, teacher, classes, 2f, new() { Reduction = LossReduction.Mean });
        float normalised = DistillationPrimitives.KlDivergence(student, teacher, classes, 2f, new() { Normalizer = 17f, Reduction = LossReduction.Mean });
        float squared = DistillationPrimitives.KlDivergence(student, teacher, classes, 2f, new() { Reduction = LossReduction.Sum, ScaleByTemperatureSquared = true });

        none.Should().Be(sum);
        rowLosses.Sum().Should().BeApproximately(sum, 1e-6f * rows);
        batchMean.Should().BeApproximately(sum / rows, 1e-7f);
        mean.Should().BeApproximately(sum / (rows * classes), 1e-8f);
        normalised.Should().BeApproximately(sum / 17f, 1e-7f);
        squared.Should().BeApproximately(sum * 4, 1e-6f);
    }

    [Fact]
    public void GradientAccumulation_WithATokenNormalizer_AddsUpToTheFullBatchGradient()
    {
        var random = new Random(21);
        const int classes = 33;
        float[] student = TestData.Logits(random, 6 * classes);
        float[] teacher = TestData.Logits(random, 6 * classes);
        var full = new float[student.Length];
        var parts = new float[student.Length];
        var options = new KernelOptions { Normalizer = 6f };
        float fullLoss = DistillationPrimitives.DivergenceWithGradient(student, teacher, classes, 2f, DivergenceKind.ForwardKl, full, options);
        float loss1 = DistillationPrimitives.DivergenceWithGradient(student.AsSpan(0, 2 * classes), teacher.AsSpan(0, 2 * classes), classes, 2f, DivergenceKind.ForwardKl, parts.AsSpan(0, 2 * classes), options);
        float loss2 = DistillationPrimitives.DivergenceWithGradient(student.AsSpan(2 * classes), teacher.AsSpan(2 * classes), classes, 2f, DivergenceKind.ForwardKl, parts.AsSpan(2 * classes), options);
        (loss1 + loss2).Should().BeApproximately(fullLoss, 1e-6f);
        parts.Should().Equal(full);
    }

    [Fact]
    public void LossOnly_EqualsTheFusedLoss()
    {
        var random = new Random(4);
        float[] student = TestData.Logits(random, 4 * 300);
        float[] teacher = TestData.Logits(random, 4 * 300);
        var gradient = new float[student.Length];
        foreach (DivergenceKind kind in Enum.GetValues<DivergenceKind>())
        {
            DistillationPrimitives.Divergence(student, teacher, 300, 3f, kind)
                .Should().Be(DistillationPrimitives.DivergenceWithGradient(student, teacher, 300, 3f, kind, gradient));
        }
    }

    internal static void Check(Random random, DivergenceKind kind, float beta, int rows, int classes, float temperature, double scale)
    {
        float[] student = TestData.Logits(random, rows * classes, scale);
        float[] teacher = TestData.Logits(random, rows * classes, scale, shift: scale);
        CheckBuffers(kind, beta, student, teacher, classes, temperature);
    }

    private static void CheckBuffers(DivergenceKind kind, float beta, float[] student, float[] teacher, int classes, float temperature)
    {
        int rows = student.Length / classes;
        var gradient = new float[student.Length];
        var rowLosses = new float[rows];
        var options = new KernelOptions { Reduction = LossReduction.Sum, JsdBeta = beta };
        float loss = DistillationPrimitives.DivergenceWithGradient(student, teacher, classes, temperature, kind, gradient, options, rowLosses);
        (double expectedLoss, double[] expectedGradient, double[] expectedRows) = DoubleReference.Divergence(kind, student, teacher, classes, temperature, beta);

        double range = Math.Max(student.Max(Math.Abs), teacher.Max(Math.Abs)) / temperature;
        double absolute = 1e-6 * rows * (1 + range);
        TestData.Close(loss, expectedLoss, 1e-5, absolute, $"{kind}(β={beta}) loss, classes {classes}, T {temperature}");
        for (int r = 0; r < rows; r++)
        {
            TestData.Close(rowLosses[r], expectedRows[r], 1e-5, 1e-6 * (1 + range), $"{kind} row {r} loss, classes {classes}");
        }

        TestData.AllClose(gradient, expectedGradient, 1e-6 * Math.Max(1, range * 1e-2) / Math.Min(1, temperature), 1e-4, $"{kind}(β={beta}) gradient, classes {classes}, T {temperature}");
    }
}
