using KnowledgeDistillation.Metrics;

namespace KnowledgeDistillation.Tests.Metrics;

public sealed class ClassificationMetricsTests
{
    // Three rows, three classes: predictions 2, 0, 1.
    private static readonly float[] Logits = [0, 1, 3, 5, 1, 0, 0, 2, 1.9f];

    [Fact]
    public void Accuracy_And_TopK()
    {
        int[] labels = [2, 1, 0];
        ClassificationMetrics.Accuracy(Logits, labels, 3).Should().BeApproximately(1 / 3.0, 1e-12);
        ClassificationMetrics.TopKAccuracy(Logits, labels, 3, 2).Should().BeApproximately(2 / 3.0, 1e-12);
        ClassificationMetrics.TopKAccuracy(Logits, labels, 3, 3).Should().Be(1);
    }

    [Fact]
    public void Agreement_CountsSameArgMax()
    {
        float[] teacher = [0, 0, 1, 1, 0, 0, 1, 0, 0];
        ClassificationMetrics.Agreement(Logits, teacher, 3).Should().BeApproximately(2 / 3.0, 1e-12);
    }

    [Fact]
    public void MeanKl_IsZeroForIdenticalRows_AndShiftInvariant()
    {
        ClassificationMetrics.MeanKlToTeacher(Logits, Logits, 3).Should().BeApproximately(0, 1e-12);
        float[] shifted = Logits.Select(v => v + 100).ToArray();
        ClassificationMetrics.MeanKlToTeacher(shifted, Logits, 3, 2).Should().BeApproximately(0, 1e-9);
        // One row: p = softmax([0, ln 3]) = [1/4, 3/4] against q = [1/2, 1/2].
        double expected = (0.25 * Math.Log(0.5)) + (0.75 * Math.Log(1.5));
        ClassificationMetrics.MeanKlToTeacher([0f, 0f], [0f, (float)Math.Log(3)], 2).Should().BeApproximately(expected, 1e-6);
    }

    [Fact]
    public void Ece_IsZeroForPerfectCalibration_AndTheGapOtherwise()
    {
        // Two classes, confidence 0.75 on every row, right on 3 of 4 rows: perfectly calibrated.
        float l = (float)Math.Log(3);
        float[] logits = [l, 0, l, 0, l, 0, l, 0];
        ClassificationMetrics.ExpectedCalibrationError(logits, [0, 0, 0, 1], 2).Should().BeApproximately(0, 1e-6);
        // Right on all four: the gap is 1 − 0.75.
        ClassificationMetrics.ExpectedCalibrationError(logits, [0, 0, 0, 0], 2).Should().BeApproximately(0.25, 1e-6);
    }

    [Fact]
    public void BadShapes_AndLabels_AreClearErrors()
    {
        Action shape = () => ClassificationMetrics.Accuracy(new float[7], [0, 1], 3);
        shape.Should().Throw<ArgumentException>().WithMessage("*7 values but 2 rows × 3 classes*");
        Action label = () => ClassificationMetrics.Accuracy(new float[6], [0, 3], 3);
        label.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*row 1*");
        Action k = () => ClassificationMetrics.TopKAccuracy(new float[6], [0, 1], 3, 4);
        k.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("k");
    }
}
