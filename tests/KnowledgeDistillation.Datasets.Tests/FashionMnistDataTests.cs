using KnowledgeDistillation.Data;

namespace KnowledgeDistillation.Datasets.Tests;

/// <summary>Reads the real Fashion-MNIST files (Debian package dataset-fashion-mnist). Fails, never skips, when absent.</summary>
public sealed class FashionMnistDataTests
{
    [Theory]
    [InlineData(DataSplit.Train, 60_000)]
    [InlineData(DataSplit.Test, 10_000)]
    public void Load_RealSplit_HasExpectedSizeAndBalancedClasses(DataSplit split, int count)
    {
        LabeledImageSet set = FashionMnist.Load(split);

        set.Count.Should().Be(count);
        set.Height.Should().Be(28);
        set.Width.Should().Be(28);
        set.Pixels.Length.Should().Be(count * 784);
        // Fashion-MNIST is exactly balanced: count / 10 images per class in both splits.
        set.Labels.GroupBy(l => l).Select(g => g.Count()).Should().AllBeEquivalentTo(count / 10);
        set.Pixels.Max().Should().Be(1f);
        set.Pixels.Min().Should().Be(0f);
    }
}
