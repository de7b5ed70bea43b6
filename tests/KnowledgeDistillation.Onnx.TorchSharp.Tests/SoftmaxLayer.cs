using KnowledgeDistillation.Onnx.Export;

namespace KnowledgeDistillation.Onnx.TorchSharp.Tests;

/// <summary>The documented way to add a layer: an <see cref="OnnxLayer"/> plus a registered converter.</summary>
internal sealed class SoftmaxLayer(string name) : OnnxLayer(name)
{
    public override string Kind => "Softmax";

    public override int[] OutputShape(IReadOnlyList<int> inputShape) => [.. inputShape];

    public override string Emit(OnnxGraphBuilder graph, string input, IReadOnlyList<int> inputShape) =>
        graph.AddNode("Softmax", [input], Name, OnnxAttribute.Int("axis", -1));
}
