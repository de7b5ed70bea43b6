using KnowledgeDistillation.Metrics;

namespace KnowledgeDistillation.Tests.Metrics;

public sealed class RowMetricsTests
{
    [Fact]
    public void BatchByBatch_EqualsClassificationMetricsOverTheWholeSet_AndTheMaskLeavesRowsOut()
    {
        var random = new Random(4);
        const int rows = 300, classes = 7;
        float[] student = Enumerable.Range(0, rows * classes).Select(_ => (random.NextSingle() * 10) - 5).ToArray();
        float[] teacher = Enumerable.Range(0, rows * classes).Select(_ => (random.NextSingle() * 10) - 5).ToArray();
        int[] labels = Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();

        var metrics = new RowMetrics(classes);
        for (int start = 0; start < rows; start += 64)
        {
            int n = Math.Min(64, rows - start);
            metrics.Add(student.AsSpan(start * classes, n * classes), labels.AsSpan(start, n), default, teacher.AsSpan(start * classes, n * classes));
        }

        metrics.Accuracy.Should().Be(ClassificationMetrics.Accuracy(student, labels, classes));
        metrics.Agreement.Should().Be(ClassificationMetrics.Agreement(student, teacher, classes));
        metrics.MeanKlToTeacher.Should().BeApproximately(ClassificationMetrics.MeanKlToTeacher(student, teacher, classes), 1e-12);
        metrics.ExpectedCalibrationError.Should().BeApproximately(ClassificationMetrics.ExpectedCalibrationError(student, labels, classes), 1e-12);
        double ce = Enumerable.Range(0, rows).Average(r =>
        {
            double[] row = student.AsSpan(r * classes, classes).ToArray().Select(v => (double)v).ToArray();
            double max = row.Max();
            return max + Math.Log(row.Sum(v => Math.Exp(v - max))) - row[labels[r]];
        });
        metrics.MeanCrossEntropy.Should().BeApproximately(ce, 1e-9);

        var masked = new RowMetrics(classes);
        bool[] mask = Enumerable.Range(0, rows).Select(r => r % 3 == 0).ToArray();
        masked.Add(student, labels, mask, teacher);
        int[] kept = Enumerable.Range(0, rows).Where(r => mask[r]).ToArray();
        masked.Rows.Should().Be(kept.Length);
        masked.Accuracy.Should().Be(ClassificationMetrics.Accuracy(kept.SelectMany(r => student.AsSpan(r * classes, classes).ToArray()).ToArray(), kept.Select(r => labels[r]).ToArray(), classes));
    }
}
