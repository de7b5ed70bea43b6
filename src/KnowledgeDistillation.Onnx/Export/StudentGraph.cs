namespace KnowledgeDistillation.Onnx.Export;

/// <summary>A classifier to export: the sample shape it reads, its classes, and its layers in order (backend-neutral).</summary>
/// <param name="Name">The model's name (for example its preset specification).</param>
/// <param name="InputShape">The shape of one input sample, without the batch dimension (for example <c>[1, 28, 28]</c>).</param>
/// <param name="ClassCount">The number of classes (the last layer's output size).</param>
/// <param name="Layers">The layers, in order.</param>
public sealed record StudentGraph(string Name, IReadOnlyList<int> InputShape, int ClassCount, IReadOnlyList<OnnxLayer> Layers)
{
    /// <summary>The number of parameters.</summary>
    public long ParameterCount => Layers.Sum(l => l.ParameterCount);
}
