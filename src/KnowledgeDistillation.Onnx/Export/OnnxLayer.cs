namespace KnowledgeDistillation.Onnx.Export;

/// <summary>
/// One layer of a model to export, described without reference to any training framework. To support a new layer,
/// derive from this class (compute the output shape, emit ONNX nodes through <see cref="OnnxGraphBuilder"/>) and
/// register a converter from the framework's module to it (for TorchSharp: <c>TorchOnnxConverter.Register</c>).
/// </summary>
public abstract class OnnxLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">The layer's name (its path in the model, for example <c>block1.conv</c>).</param>
    protected OnnxLayer(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
    }

    /// <summary>The layer's name.</summary>
    public string Name { get; }

    /// <summary>The kind of layer, for messages (for example <c>Conv2d</c>).</summary>
    public abstract string Kind { get; }

    /// <summary>The number of parameters this layer holds.</summary>
    public virtual long ParameterCount => 0;

    /// <summary>The shape of one output sample for one input sample of <paramref name="inputShape"/> (both without the batch dimension).</summary>
    /// <exception cref="ArgumentException">The input shape does not fit the layer.</exception>
    public abstract int[] OutputShape(IReadOnlyList<int> inputShape);

    /// <summary>Adds the layer's nodes to <paramref name="graph"/>, reading <paramref name="input"/>; returns the output tensor's name.</summary>
    public abstract string Emit(OnnxGraphBuilder graph, string input, IReadOnlyList<int> inputShape);

    /// <summary>Formats a shape for messages.</summary>
    protected static string ShapeText(IReadOnlyList<int> shape) => $"[{string.Join(", ", shape ?? [])}]";
}
