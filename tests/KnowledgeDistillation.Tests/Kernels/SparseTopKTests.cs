using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Tests.Kernels.Reference;

namespace KnowledgeDistillation.Tests.Kernels;

public sealed class SparseTopKTests
{
    public static TheoryData<TopKValueKind, TopKMassTreatment, bool> Variants()
    {
        var data = new TheoryData<TopKValueKind, TopKMassTreatment, bool>();
        foreach (TopKValueKind kind in Enum.GetValues<TopKValueKind>())
        {
            foreach (TopKMassTreatment treatment in Enum.GetValues<TopKMassTreatment>())
            {
                data.Add(kind, treatment, false);
                data.Add(kind, treatment, true);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void LossMatchesTheReference_AndGradientMatchesFiniteDifferences(TopKValueKind valueKind, TopKMassTreatment treatment, bool crossEntropy)
    {
        var random = new Random(((int)valueKind * 10) + ((int)treatment * 2) + (crossEntropy ? 1 : 0));
        for (int classes = 1; classes <= 256; classes += classes < 24 ? 1 : 23)
        {
            int k = 1 + random.Next(Math.Min(classes, 20));
            const int rows = 2;
            float temperature = TestData.Temperature(random);
            float[] student = TestData.Logits(random, rows * classes, 2);
            (int[] indices, float[] values) = Teacher(random, rows, classes, k, valueKind);
            var gradient = new float[student.Length];
            var options = new KernelOptions { Reduction = LossReduction.Sum };
            float loss = DistillationPrimitives.SparseTopKWithGradient(student, indices, values, classes, k, temperature, valueKind, treatment, crossEntropy, gradient, options);
            double expected = ReferenceLoss(student, indices, values, classes, k, temperature, valueKind, treatment, crossEntropy);
            TestData.Close(loss, expected, 1e-5, 2e-6 * (1 + (4 / temperature)), $"sparse loss classes {classes} k {k}");
            if (classes <= 24)
            {
                double[] numeric = DoubleReference.FiniteDifferences(student, s => ReferenceLoss(s, indices, values, classes, k, temperature, valueKind, treatment, crossEntropy));
                TestData.AllClose(gradient, numeric, 5e-5, 2e-3, $"sparse gradient classes {classes} k {k}");
            }
        }
    }

    [Fact]
    public void AllClassesInTheTopK_EqualsTheDenseKl()
    {
        var random = new Random(3);
        const int classes = 37;
        float[] student = TestData.Logits(random, 2 * classes);
        float[] teacher = TestData.Logits(random, 2 * classes);
        var indices = new int[2 * classes];
        var values = new float[2 * classes];
        DistillationPrimitives.TopK(teacher, classes, classes, indices, values);
        var sparseGradient = new float[student.Length];
        var denseGradient = new float[student.Length];
        float sparse = DistillationPrimitives.SparseTopKWithGradient(student, indices, values, classes, classes, 2f, TopKValueKind.Logits, TopKMassTreatment.Renormalize, false, sparseGradient);
        float dense = DistillationPrimitives.DivergenceWithGradient(student, teacher, classes, 2f, DivergenceKind.ForwardKl, denseGradient);
        sparse.Should().BeApproximately(dense, 1e-5f);
        for (int i = 0; i < student.Length; i++)
        {
            sparseGradient[i].Should().BeApproximately(denseGradient[i], 1e-6f);
        }
    }

    [Fact]
    public void TopK_ReturnsTheLargestSortedDescending_WithLowerIndicesWinningTies_AtEveryLength()
    {
        var random = new Random(17);
        foreach (int classes in Enumerable.Range(1, 256).Append(32000))
        {
            int k = 1 + random.Next(Math.Min(classes, 50));
            float[] logits = TestData.Logits(random, 2 * classes);
            for (int i = 0; i < logits.Length; i += 5)
            {
                logits[i] = MathF.Round(logits[i]); // ties
            }

            var indices = new int[2 * k];
            var values = new float[2 * k];
            DistillationPrimitives.TopK(logits, classes, k, indices, values, new KernelOptions { MaxDegreeOfParallelism = -1 });
            for (int r = 0; r < 2; r++)
            {
                int[] expected = Enumerable.Range(0, classes).OrderByDescending(i => logits[(r * classes) + i]).ThenBy(i => i).Take(k).ToArray();
                indices.AsSpan(r * k, k).ToArray().Should().Equal(expected, $"classes {classes}, k {k}");
                values.AsSpan(r * k, k).ToArray().Should().Equal(expected.Select(i => logits[(r * classes) + i]));
            }
        }
    }

    [Fact]
    public void Retemper_RaisesProbabilitiesToTheTemperatureRatio_AndRenormalises()
    {
        float[] logProbabilities = [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.1f)];
        var destination = new float[3];
        DistillationPrimitives.RetemperLogProbabilities(logProbabilities, 3, 1f, 2f, destination);
        double[] expected = [Math.Sqrt(0.5), Math.Sqrt(0.3), Math.Sqrt(0.1)];
        double sum = expected.Sum();
        for (int i = 0; i < 3; i++)
        {
            Math.Exp(destination[i]).Should().BeApproximately(expected[i] / sum, 1e-6);
        }
    }

    internal static (int[] Indices, float[] Values) Teacher(Random random, int rows, int classes, int k, TopKValueKind valueKind)
    {
        float[] teacher = TestData.Logits(random, rows * classes, 2);
        var indices = new int[rows * k];
        var values = new float[rows * k];
        DistillationPrimitives.TopK(teacher, classes, k, indices, values);
        if (valueKind == TopKValueKind.LogProbabilities)
        {
            var logSoftmax = new float[teacher.Length];
            DistillationPrimitives.LogSoftmax(teacher, classes, 1.5f, logSoftmax);
            for (int i = 0; i < indices.Length; i++)
            {
                values[i] = logSoftmax[((i / k) * classes) + indices[i]];
            }
        }

        return (indices, values);
    }

    private static double ReferenceLoss(float[] student, int[] indices, float[] values, int classes, int k, double temperature, TopKValueKind valueKind, TopKMassTreatment treatment, bool crossEntropy)
    {
        double total = 0;
        for (int r = 0; r < student.Length / classes; r++)
        {
            total += DoubleReference.SparseRow(student.AsSpan(r * classes, classes), indices.AsSpan(r * k, k), values.AsSpan(r * k, k), temperature, valueKind, treatment, crossEntropy);
        }

        return total;
    }
}
