using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Tests.Kernels.Reference;

namespace KnowledgeDistillation.Tests.Kernels;

public sealed class ThreadingAndAllocationTests
{
    // 64 rows × 2048 classes makes 4 blocks of 16 rows, so the parallel path really splits the work.
    private const int Rows = 64;
    private const int Classes = 2048;

    [Theory]
    [InlineData(DivergenceKind.ForwardKl)]
    [InlineData(DivergenceKind.ReverseKl)]
    [InlineData(DivergenceKind.JensenShannon)]
    [InlineData(DivergenceKind.SoftTargetCrossEntropy)]
    public void Divergences_AreBitIdenticalForEveryDegreeOfParallelism(DivergenceKind kind)
    {
        var random = new Random(2);
        float[] student = TestData.Logits(random, Rows * Classes);
        float[] teacher = TestData.Logits(random, Rows * Classes);
        (float loss, float[] gradient) = Run(1);
        foreach (int degree in new[] { -1, 2, 3 })
        {
            (float otherLoss, float[] otherGradient) = Run(degree);
            BitConverter.SingleToInt32Bits(otherLoss).Should().Be(BitConverter.SingleToInt32Bits(loss));
            otherGradient.AsSpan().SequenceEqual(gradient).Should().BeTrue();
        }

        (float, float[]) Run(int degree)
        {
            var gradient = new float[student.Length];
            float loss = DistillationPrimitives.DivergenceWithGradient(student, teacher, Classes, 3f, kind, gradient, new() { MaxDegreeOfParallelism = degree });
            return (loss, gradient);
        }
    }

    [Fact]
    public void HintonDkdAndSparse_AreBitIdenticalForEveryDegreeOfParallelism()
    {
        var random = new Random(6);
        float[] student = TestData.Logits(random, Rows * Classes);
        float[] teacher = TestData.Logits(random, Rows * Classes);
        int[] labels = TestData.Labels(random, Rows, Classes);
        (int[] indices, float[] values) = SparseTopKTests.Teacher(random, Rows, Classes, 20, TopKValueKind.LogProbabilities);
        var single = new float[student.Length];
        var parallel = new float[student.Length];

        HintonLossValue a = DistillationPrimitives.HintonLossWithGradient(student, teacher, labels, Classes, 2f, 0.5f, single);
        HintonLossValue b = DistillationPrimitives.HintonLossWithGradient(student, teacher, labels, Classes, 2f, 0.5f, parallel, new KernelOptions { MaxDegreeOfParallelism = -1 });
        b.Should().Be(a);
        parallel.AsSpan().SequenceEqual(single).Should().BeTrue();

        float dkd1 = DistillationPrimitives.DecoupledKdWithGradient(student, teacher, labels, Classes, 2f, 1f, 8f, single);
        float dkd2 = DistillationPrimitives.DecoupledKdWithGradient(student, teacher, labels, Classes, 2f, 1f, 8f, parallel, new() { MaxDegreeOfParallelism = -1 });
        dkd2.Should().Be(dkd1);
        parallel.AsSpan().SequenceEqual(single).Should().BeTrue();

        float sparse1 = DistillationPrimitives.SparseTopKWithGradient(student, indices, values, Classes, 20, 2f, TopKValueKind.LogProbabilities, TopKMassTreatment.ExtraBucket, false, single);
        float sparse2 = DistillationPrimitives.SparseTopKWithGradient(student, indices, values, Classes, 20, 2f, TopKValueKind.LogProbabilities, TopKMassTreatment.ExtraBucket, false, parallel, new() { MaxDegreeOfParallelism = 3 });
        sparse2.Should().Be(sparse1);
        parallel.AsSpan().SequenceEqual(single).Should().BeTrue();
    }

    [Fact]
    public void WarmedUpSingleThreadedCalls_AllocateNothing()
    {
        var random = new Random(1);
        const int classes = 1000, rows = 8, k = 10;
        float[] student = TestData.Logits(random, rows * classes);
        float[] teacher = TestData.Logits(random, rows * classes);
        int[] labels = TestData.Labels(random, rows, classes);
        var gradient = new float[student.Length];
        var rowLosses = new float[rows];
        var indices = new int[rows * k];
        var values = new float[rows * k];

        DivergenceKind[] kinds = Enum.GetValues<DivergenceKind>();
        void CallEverything()
        {
            foreach (DivergenceKind kind in kinds)
            {
                DistillationPrimitives.DivergenceWithGradient(student, teacher, classes, 2f, kind, gradient, new() { Reduction = LossReduction.None }, rowLosses);
            }

            DistillationPrimitives.HintonLossWithGradient(student, teacher, labels, classes, 2f, 0.5f, gradient);
            DistillationPrimitives.DecoupledKdWithGradient(student, teacher, labels, classes, 2f, 1f, 8f, gradient);
            DistillationPrimitives.TopK(teacher, classes, k, indices, values);
            DistillationPrimitives.SparseTopKWithGradient(student, indices, values, classes, k, 2f, TopKValueKind.Logits, TopKMassTreatment.ExtraBucket, false, gradient);
            DistillationPrimitives.Softmax(student, classes, 2f, gradient);
            DistillationPrimitives.LogSumExp(student, classes, 2f, rowLosses);
        }

        CallEverything();
        CallEverything();
        long before = GC.GetAllocatedBytesForCurrentThread();
        CallEverything();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        allocated.Should().Be(0);
    }
}
