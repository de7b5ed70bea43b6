namespace KnowledgeDistillation.Onnx.Export.Layers;

/// <summary>Layers run in order (a Sequential); its name can be requested as an intermediate output.</summary>
public sealed class SequenceLayer : OnnxLayer
{
    /// <summary>Creates the layer.</summary>
    public SequenceLayer(string name, IReadOnlyList<OnnxLayer> layers)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(layers);
        Layers = layers.ToArray();
    }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<OnnxLayer> Layers { get; }

    /// <inheritdoc />
    public override string Kind => "Sequential";

    /// <inheritdoc />
    public override long ParameterCount => Layers.Sum(l => l.ParameterCount);

    /// <inheritdoc />
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        int[] shape = [.. inputShape];
        foreach (OnnxLayer layer in Layers)
        {
            shape = layer.OutputShape(shape);
        }
        return shape;
    }

    /// <inheritdoc />
    public override string Emit(OnnxGraphBuilder graph, string input, IReadOnlyList<int> inputShape)
    {
        string x = input;
        int[] shape = [.. inputShape];
        foreach (OnnxLayer layer in Layers)
        {
            x = layer.Emit(graph, x, shape);
            shape = layer.OutputShape(shape);
        }
        return x;
    }
}
