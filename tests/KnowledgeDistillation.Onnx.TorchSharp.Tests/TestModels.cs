using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Datasets;
using KnowledgeDistillation.Metrics;
using KnowledgeDistillation.TorchSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.Onnx.TorchSharp.Tests;

/// <summary>Real Fashion-MNIST subsets and small students trained briefly on them (cached per process).</summary>
internal static class TestModels
{
    private static readonly Lazy<LabeledImageSet> TrainSet = new(() => FashionMnist.Load(DataSplit.Train));
    private static readonly Lazy<LabeledImageSet> TestSet = new(() => FashionMnist.Load(DataSplit.Test));
    private static readonly Dictionary<string, TorchModel> Cache = [];

    public static LabeledImageSet Train(int count) => TrainSet.Value.Take(count);

    public static LabeledImageSet Test(int count) => TestSet.Value.Take(count);

    /// <summary>A preset trained for <paramref name="epochs"/> epochs on the first <paramref name="images"/> training images (Adam, cross-entropy).</summary>
    public static TorchModel Trained(string spec, int images = 3000, int epochs = 2)
    {
        string key = $"{spec}|{images}|{epochs}";
        lock (Cache)
        {
            if (Cache.TryGetValue(key, out TorchModel? cached))
            {
                return cached;
            }
            TorchModel model = TorchModel.FromPreset(spec, [1, 28, 28], 10, seed: 11);
            LabeledImageSet data = Train(images);
            using var optimizer = optim.Adam(model.Module.parameters(), 0.003);
            model.Module.train();
            for (int epoch = 0; epoch < epochs; epoch++)
            {
                foreach (Batch batch in data.GetBatches(64, shuffle: true, seed: 5, epoch))
                {
                    using var scope = NewDisposeScope();
                    Tensor x = model.ToInputTensor(batch.Inputs);
                    Tensor y = tensor(batch.Labels.Select(l => (long)l).ToArray());
                    Tensor loss = nn.functional.cross_entropy(model.Module.call(x), y);
                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();
                }
            }
            model.Module.eval();
            Cache[key] = model;
            return model;
        }
    }

    /// <summary>All of <paramref name="set"/> as one batch.</summary>
    public static Float32Tensor AsBatch(LabeledImageSet set) => new(set.Pixels, set.Count, 1, set.Height, set.Width);

    public static double Accuracy(Float32Tensor logits, LabeledImageSet set) => ClassificationMetrics.Accuracy(logits.Data.Span, set.Labels, set.ClassCount);

    public static float MaxAbsDifference(Float32Tensor a, Float32Tensor b)
    {
        a.Shape.Should().Equal(b.Shape);
        ReadOnlySpan<float> x = a.Data.Span, y = b.Data.Span;
        float max = 0;
        for (int i = 0; i < x.Length; i++)
        {
            max = Math.Max(max, Math.Abs(x[i] - y[i]));
        }
        return max;
    }
}
