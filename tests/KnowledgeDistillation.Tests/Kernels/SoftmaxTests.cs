using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Tests.Kernels.Reference;

namespace KnowledgeDistillation.Tests.Kernels;

public sealed class SoftmaxTests
{
    [Fact]
    public void AllThree_MatchTheDoubleReference_AtEveryLengthFrom1To256()
    {
        var random = new Random(1);
        for (int classes = 1; classes <= 256; classes++)
        {
            Check(random, rows: 2, classes, TestData.Temperature(random), scale: 3);
        }
    }

    [Theory]
    [InlineData(257)]
    [InlineData(32000)]
    [InlineData(151936)]
    public void AllThree_MatchTheDoubleReference_OnLongRows(int classes) => Check(new Random(classes), rows: 2, classes, 1.7f, scale: 4);

    [Fact]
    public void Softmax_SubtractsTheMaximum_WhereTensorPrimitivesDoesNot()
    {
        float[] logits = [1000f, 1001f, 2f];
        var probabilities = new float[3];
        DistillationPrimitives.Softmax(logits, 3, 1f, probabilities);
        probabilities[0].Should().BeApproximately(0.26894142f, 1e-6f);
        probabilities[1].Should().BeApproximately(0.7310586f, 1e-6f);
        probabilities[2].Should().Be(0f);
    }

    [Fact]
    public void ExtremeAndEqualLogits_StayFinite()
    {
        var random = new Random(3);
        Check(random, 3, 100, 0.5f, scale: 1e4);
        float[] equal = Enumerable.Repeat(42f, 300).ToArray();
        var destination = new float[300];
        DistillationPrimitives.Softmax(equal, 300, 3f, destination);
        destination.Should().OnlyContain(p => Math.Abs(p - (1f / 300)) < 1e-8);
    }

    [Fact]
    public void EmptyBatch_DoesNothing()
    {
        // No rows is valid input: no exception, and nothing is written past the (empty) destination.
        float[] softmaxSentinel = [7f, 7f, 7f], logSumExpSentinel = [9f, 9f];
        Action empty = () =>
        {
            DistillationPrimitives.Softmax([], 5, 1f, softmaxSentinel.AsSpan(0, 0));
            DistillationPrimitives.LogSumExp([], 5, 1f, logSumExpSentinel.AsSpan(0, 0));
        };
        empty.Should().NotThrow();
        softmaxSentinel.Should().Equal(7f, 7f, 7f);
        logSumExpSentinel.Should().Equal(9f, 9f);
        Action wrongRows = () => DistillationPrimitives.Softmax([], 5, 1f, softmaxSentinel);
        wrongRows.Should().Throw<ArgumentException>("a destination longer than the input is not the input's shape");
    }

    private static void Check(Random random, int rows, int classes, float temperature, double scale)
    {
        float[] logits = TestData.Logits(random, rows * classes, scale);
        var softmax = new float[logits.Length];
        var logSoftmax = new float[logits.Length];
        var logSumExp = new float[rows];
        DistillationPrimitives.Softmax(logits, classes, temperature, softmax);
        DistillationPrimitives.LogSoftmax(logits, classes, temperature, logSoftmax);
        DistillationPrimitives.LogSumExp(logits, classes, temperature, logSumExp);
        for (int r = 0; r < rows; r++)
        {
            double[] expected = DoubleReference.LogSoftmax(logits.AsSpan(r * classes, classes), temperature);
            double lse = DoubleReference.LogSumExp(logits.AsSpan(r * classes, classes), temperature);
            TestData.Close(logSumExp[r], lse, 1e-6, 1e-6, $"logsumexp row {r} classes {classes}");
            for (int i = 0; i < classes; i++)
            {
                // Log-probabilities: absolute error grows with |log p| (float resolution), so relative plus absolute.
                TestData.Close(logSoftmax[(r * classes) + i], expected[i], 2e-6, 2e-6, $"log_softmax[{r},{i}] classes {classes}");
                TestData.Close(softmax[(r * classes) + i], Math.Exp(expected[i]), 1e-5, 1e-9, $"softmax[{r},{i}] classes {classes}");
            }
        }
    }
}
