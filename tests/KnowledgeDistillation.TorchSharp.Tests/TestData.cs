using KnowledgeDistillation.Data;
using KnowledgeDistillation.Datasets;

namespace KnowledgeDistillation.TorchSharp.Tests;

/// <summary>Small subsets of the real Fashion-MNIST (fails clearly when the data is missing), loaded once.</summary>
internal static class TestData
{
    private static readonly Lazy<LabeledImageSet> Train = new(() => FashionMnist.Load(DataSplit.Train));
    private static readonly Lazy<LabeledImageSet> Test = new(() => FashionMnist.Load(DataSplit.Test));

    public static LabeledImageSet TrainSubset(int count) => Train.Value.Take(count);

    public static LabeledImageSet TestSubset(int count) => Test.Value.Take(count);
}
