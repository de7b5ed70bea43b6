using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Tests.Kernels.Reference;

namespace KnowledgeDistillation.Tests.Kernels;

public sealed class EdgeCaseTests
{
    [Fact]
    public void EmptyBatches_ReturnZero_ForEveryKernel()
    {
        foreach (DivergenceKind kind in Enum.GetValues<DivergenceKind>())
        {
            DistillationPrimitives.DivergenceWithGradient([], [], 7, 2f, kind, []).Should().Be(0f);
        }

        DistillationPrimitives.HintonLossWithGradient([], [], [], 7, 2f, 0.5f, []).Should().Be(default(HintonLossValue));
        DistillationPrimitives.DecoupledKdWithGradient([], [], [], 7, 2f, 1f, 8f, []).Should().Be(0f);
        DistillationPrimitives.SparseTopKWithGradient([], [], [], 7, 3, 2f, TopKValueKind.Logits, TopKMassTreatment.ExtraBucket, false, []).Should().Be(0f);
        DistillationPrimitives.TopK([], 7, 3, [], []);
    }

    [Fact]
    public void OneClass_GivesZeroLossAndZeroGradient()
    {
        float[] student = [3f, -2f];
        float[] teacher = [1f, 5f];
        var gradient = new float[2];
        foreach (DivergenceKind kind in Enum.GetValues<DivergenceKind>())
        {
            float loss = DistillationPrimitives.DivergenceWithGradient(student, teacher, 1, 2f, kind, gradient);
            loss.Should().BeApproximately(0f, 1e-7f, kind.ToString());
            gradient.Should().OnlyContain(g => Math.Abs(g) < 1e-7f);
        }
    }

    [Fact]
    public void SparseDuplicateIndices_AddUp()
    {
        var random = new Random(2);
        const int classes = 9;
        float[] student = TestData.Logits(random, classes, 1);
        float[] values = [MathF.Log(0.2f), MathF.Log(0.2f), MathF.Log(0.3f)];
        var duplicated = new float[classes];
        var merged = new float[classes];
        float a = DistillationPrimitives.SparseTopKWithGradient(student, [4, 4, 1], values, classes, 3, 1f, TopKValueKind.LogProbabilities, TopKMassTreatment.ExtraBucket, true, duplicated);
        float b = DistillationPrimitives.SparseTopKWithGradient(student, [4, 1], [MathF.Log(0.4f), MathF.Log(0.3f)], classes, 2, 1f, TopKValueKind.LogProbabilities, TopKMassTreatment.ExtraBucket, true, merged);
        a.Should().BeApproximately(b, 1e-6f);
        for (int i = 0; i < classes; i++)
        {
            duplicated[i].Should().BeApproximately(merged[i], 1e-6f);
        }
    }

    [Fact]
    public void InPlaceSoftmax_EqualsOutOfPlace()
    {
        float[] logits = TestData.Logits(new Random(1), 3 * 70);
        var expected = new float[logits.Length];
        DistillationPrimitives.LogSoftmax(logits, 70, 1.5f, expected);
        DistillationPrimitives.LogSoftmax(logits, 70, 1.5f, logits);
        logits.Should().Equal(expected);
    }
}
