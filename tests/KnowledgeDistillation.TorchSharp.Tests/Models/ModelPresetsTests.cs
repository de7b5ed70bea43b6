using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.TorchSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.Models;

public sealed class ModelPresetsTests
{
    private static readonly int[] Image = [1, 28, 28];

    [Theory]
    [InlineData("mlp:32", 784 * 32 + 32 + 32 * 10 + 10)]
    [InlineData("mlp:64,32:dropout=0.1", 784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10)]
    [InlineData("cnn:4,8", (9 * 4 + 4) + (4 * 9 * 8 + 8) + (8 * 7 * 7 * 10 + 10))]
    [InlineData("cnn:4,8:bn,hidden=16", (9 * 4 + 8) + (4 * 9 * 8 + 16) + (8 * 7 * 7 * 16 + 16) + (16 * 10 + 10))]
    public void Create_BuildsTheDescribedArchitecture(string spec, long parameters)
    {
        using TorchModel model = TorchModel.FromPreset(spec, Image, 10, seed: 1);
        model.Metadata.ParameterCount.Should().Be(parameters);
        ModelOutput output = model.Predict(new Float32Tensor(new float[3 * 784], 3, 1, 28, 28));
        output.Logits.Shape.Should().Equal(3, 10);
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("rnn:32")]
    [InlineData("mlp:0")]
    [InlineData("mlp:a,b")]
    [InlineData("cnn:8:dropout=2")]
    [InlineData("cnn:8,8,8,8,8,8")]
    public void Create_MalformedSpec_ThrowsWithExamples(string spec)
    {
        Action act = () => ModelPresets.Create(spec, Image, 10);
        act.Should().Throw<FormatException>().WithMessage($"*'{spec}'*Examples*");
    }

    [Fact]
    public void SameSeed_SameWeights_DifferentSeed_DifferentWeights()
    {
        using TorchModel a = TorchModel.FromPreset("mlp:16", Image, 10, seed: 5);
        using TorchModel b = TorchModel.FromPreset("mlp:16", Image, 10, seed: 5);
        using TorchModel c = TorchModel.FromPreset("mlp:16", Image, 10, seed: 6);
        Weights(a).Should().Equal(Weights(b));
        Weights(a).Should().NotEqual(Weights(c));
    }

    internal static float[] Weights(TorchModel model) =>
        model.Module.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();
}
