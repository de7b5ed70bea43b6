using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Tests.Kernels.Reference;

namespace KnowledgeDistillation.Tests.Kernels;

public sealed class HintonAndDecoupledKdTests
{
    [Fact]
    public void Hinton_MatchesTheReference_AtEveryLengthFrom1To256()
    {
        var random = new Random(31);
        for (int classes = 1; classes <= 256; classes++)
        {
            float temperature = classes % 7 == 0 ? 1f : TestData.Temperature(random);
            CheckHinton(random, rows: 2, classes, temperature, alpha: (float)random.NextDouble(), normalizer: classes % 3 == 0 ? 5f : null);
        }
    }

    [Theory]
    [InlineData(32000, 4f, 0.9f)]
    [InlineData(151936, 1f, 0.5f)]
    [InlineData(257, 20f, 0f)]
    [InlineData(257, 0.5f, 1f)]
    public void Hinton_MatchesTheReference_OnLongRowsAndEdgeWeights(int classes, float temperature, float alpha) =>
        CheckHinton(new Random(classes), rows: 2, classes, temperature, alpha, normalizer: null);

    [Fact]
    public void Hinton_GradientMatchesFiniteDifferences()
    {
        var random = new Random(8);
        const int classes = 11;
        float[] student = TestData.Logits(random, 3 * classes, 1);
        float[] teacher = TestData.Logits(random, 3 * classes, 1);
        int[] labels = TestData.Labels(random, 3, classes);
        var gradient = new float[student.Length];
        DistillationPrimitives.HintonLossWithGradient(student, teacher, labels, classes, 2.5f, 0.7f, gradient, new KernelOptions { Normalizer = 4f });
        double[] numeric = DoubleReference.FiniteDifferences(student, s =>
        {
            (double kl, double ce, _) = DoubleReference.Hinton(s, teacher, labels, classes, 2.5, 0.7, 4);
            return ((0.7 * 2.5 * 2.5 * kl) + (0.3 * ce)) / 4;
        });
        TestData.AllClose(gradient, numeric, 2e-5, 1e-3, "Hinton gradient vs finite differences");
    }

    [Fact]
    public void DecoupledKd_MatchesThePapersDefinition_AndFiniteDifferences()
    {
        var random = new Random(12);
        for (int classes = 1; classes <= 256; classes += classes < 20 ? 1 : 17)
        {
            float[] student = TestData.Logits(random, 3 * classes, 2);
            float[] teacher = TestData.Logits(random, 3 * classes, 2);
            int[] labels = TestData.Labels(random, 3, classes);
            float temperature = TestData.Temperature(random);
            var gradient = new float[student.Length];
            float loss = DistillationPrimitives.DecoupledKdWithGradient(student, teacher, labels, classes, temperature, 1f, 8f, gradient);
            double expected = DoubleReference.DecoupledKd(student, teacher, labels, classes, temperature, 1, 8) / 3;
            TestData.Close(loss, expected, 1e-5, 1e-5 * (1 + (temperature * temperature)), $"DKD loss classes {classes}");
            if (classes <= 12)
            {
                double[] numeric = DoubleReference.FiniteDifferences(student, s => DoubleReference.DecoupledKd(s, teacher, labels, classes, temperature, 1, 8) / 3);
                TestData.AllClose(gradient, numeric, 5e-5 * (1 + temperature), 2e-3, $"DKD gradient classes {classes}");
            }
        }
    }

    [Fact]
    public void DecoupledKd_StaysFinite_WhenTheTargetLogitDominates()
    {
        float[] student = [1e4f, 1f, 2f, 3f];
        float[] teacher = [2e4f, 3f, 2f, 1f];
        var gradient = new float[4];
        float loss = DistillationPrimitives.DecoupledKdWithGradient(student, teacher, [0], 4, 1f, 1f, 1f, gradient);
        double expected = DoubleReference.DecoupledKd(student, teacher, [0], 4, 1, 1, 1);
        TestData.Close(loss, expected, 1e-5, 1e-6, "DKD with a dominant target");
        gradient.Should().OnlyContain(g => float.IsFinite(g));
    }

    private static void CheckHinton(Random random, int rows, int classes, float temperature, float alpha, float? normalizer)
    {
        float[] student = TestData.Logits(random, rows * classes, 3);
        float[] teacher = TestData.Logits(random, rows * classes, 3, 1);
        int[] labels = TestData.Labels(random, rows, classes);
        var gradient = new float[student.Length];
        HintonLossValue value = DistillationPrimitives.HintonLossWithGradient(student, teacher, labels, classes, temperature, alpha, gradient, new KernelOptions { Normalizer = normalizer });
        double divisor = normalizer ?? rows;
        (double kl, double ce, double[] expectedGradient) = DoubleReference.Hinton(student, teacher, labels, classes, temperature, alpha, divisor);
        double range = Math.Max(student.Max(Math.Abs), teacher.Max(Math.Abs)) / Math.Min(1, temperature);
        double distillation = kl * temperature * temperature / divisor;
        TestData.Close(value.Distillation, distillation, 1e-5, 1e-6 * temperature * temperature * (1 + range), $"Hinton distillation classes {classes}");
        TestData.Close(value.HardLabel, ce / divisor, 1e-5, 1e-6 * (1 + range), $"Hinton hard label classes {classes}");
        TestData.Close(value.Total, (alpha * distillation) + ((1 - alpha) * ce / divisor), 1e-5, 1e-6 * temperature * temperature * (1 + range), "Hinton total");
        TestData.AllClose(gradient, expectedGradient, 1e-6 * Math.Max(1, temperature), 1e-4, $"Hinton gradient classes {classes} T {temperature}");
    }
}
