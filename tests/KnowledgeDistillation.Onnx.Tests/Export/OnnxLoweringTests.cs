using KnowledgeDistillation.Onnx.Export;
using KnowledgeDistillation.Onnx.Export.Layers;
using KnowledgeDistillation.Onnx.Export.Lowering;

namespace KnowledgeDistillation.Onnx.Tests.Export;

public sealed class OnnxLoweringTests
{
    [Fact]
    public void Lower_FlattensSequences_FoldsBatchNorms_AndKeepsEveryNameAddressable()
    {
        var conv = new Conv2dLayer("block.conv", [2f, -1f], [0.5f, 0f], 1, 2, (1, 1), (1, 1), (0, 0), (1, 1), 1);
        // Multiplier γ / √(var + ε) = 2 and 0.5, offset β − mean · multiplier = 1 and 0.
        var bn = new BatchNormLayer("block.bn", [0f, 2f], [0.25f, 4f], [1f, 1f], [1f, 1f], 0);
        var graph = new StudentGraph("g", [1, 3, 3], 2,
        [
            new SequenceLayer("outer", [new SequenceLayer("block", [conv, bn]), new SequenceLayer("empty", [])]),
            new ActivationLayer("relu", ActivationKind.Relu),
            new AdaptiveAvgPool2dLayer("gap", 1, 1),
            new FlattenLayer("flatten"),
        ]);

        LoweredGraph lowered = OnnxLowering.Lower(graph, new OnnxExportOptions());

        lowered.Source.Should().BeSameAs(graph);
        lowered.Layers.Select(l => l.Layer.Kind).Should().Equal("Conv2d", "Sequential", "Relu", "AdaptiveAvgPool2d", "Flatten");
        lowered.Layers.Select(l => string.Join(",", l.Names)).Should().Equal("block.conv,block.bn,block", "empty,outer", "relu", "gap", "flatten");
        lowered.Layers.Select(l => l.RangeName).Should().Equal("block.conv", "empty", "relu", "gap", "flatten");
        lowered.Layers.Select(l => $"{string.Join(",", l.InputShape)}→{string.Join(",", l.OutputShape)}")
            .Should().Equal("1,3,3→2,3,3", "2,3,3→2,3,3", "2,3,3→2,3,3", "2,3,3→2,1,1", "2,1,1→2");
        var folded = (Conv2dLayer)lowered.Layers[0].Layer;
        folded.Weight.Should().Equal(4f, -0.5f);
        folded.Bias.Should().Equal(2f, 0f);
    }
}
