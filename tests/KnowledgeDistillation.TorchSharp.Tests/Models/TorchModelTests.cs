using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.TorchSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.Models;

public sealed class TorchModelTests
{
    private static readonly int[] Image = [1, 28, 28];

    private static Float32Tensor RandomBatch(int rows, int seed)
    {
        var random = new Random(seed);
        return new Float32Tensor(Enumerable.Range(0, rows * 784).Select(_ => random.NextSingle()).ToArray(), rows, 1, 28, 28);
    }

    [Fact]
    public void CapturedIntermediate_EqualsTheLayersRealOutput()
    {
        using TorchModel model = TorchModel.FromPreset("cnn:4,8", Image, 10, seed: 2);
        Float32Tensor batch = RandomBatch(2, 1);

        ModelOutput output = model.Predict(batch, ["block1"]);

        // Recompute block1 by hand from the module's own children.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var block1 = ((SequentialClassifier)model.Module).named_modules().Single(c => c.name.EndsWith("block1", StringComparison.Ordinal)).module as nn.Module<Tensor, Tensor>;
        Tensor expected = block1!.call(tensor(batch.Data.ToArray(), 2, 1, 28, 28));
        output.Intermediates["block1"].Shape.Should().Equal(2, 4, 14, 14);
        output.Intermediates["block1"].Data.ToArray().Should().Equal(expected.data<float>().ToArray());
    }

    [Fact]
    public void UnknownIntermediate_ListsTheLayers()
    {
        using TorchModel model = TorchModel.FromPreset("cnn:4", Image, 10, seed: 2);
        Action act = () => model.Predict(RandomBatch(1, 1), ["layer9"]);
        act.Should().Throw<ArgumentException>().WithMessage("*no layer named 'layer9'*block1, flatten, logits*");
    }

    [Fact]
    public void WrongInputShape_IsAClearError()
    {
        using TorchModel model = TorchModel.FromPreset("mlp:8", Image, 10, seed: 2);
        Action act = () => model.Predict(new Float32Tensor(new float[2 * 100], 2, 100));
        act.Should().Throw<ArgumentException>().WithMessage("*expects inputs of shape [rows, 1, 28, 28]*[2, 100]*");
    }

    [Fact]
    public void Weights_RoundTrip_AndBadWeightsLeaveTheModelUnchanged()
    {
        using TorchModel a = TorchModel.FromPreset("mlp:8", Image, 10, seed: 3);
        using TorchModel b = TorchModel.FromPreset("mlp:8", Image, 10, seed: 4);
        using var saved = new MemoryStream();
        a.SaveWeights(saved);
        saved.Position = 0;
        b.LoadWeights(saved);
        ModelPresetsTests.Weights(b).Should().Equal(ModelPresetsTests.Weights(a));

        using TorchModel other = TorchModel.FromPreset("mlp:16", Image, 10, seed: 5);
        using var wrong = new MemoryStream();
        other.SaveWeights(wrong);
        wrong.Position = 0;
        float[] before = ModelPresetsTests.Weights(b);
        Action act = () => b.LoadWeights(wrong);
        act.Should().Throw<InvalidDataException>().WithMessage("*keeps its previous weights*");
        ModelPresetsTests.Weights(b).Should().Equal(before);
    }
}
