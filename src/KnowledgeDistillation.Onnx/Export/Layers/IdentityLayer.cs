namespace KnowledgeDistillation.Onnx.Export.Layers;

/// <summary>A layer that does nothing at inference (Dropout, Identity): no node is written.</summary>
public sealed class IdentityLayer : OnnxLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">The layer's name.</param>
    /// <param name="kind">What the layer was (for example <c>Dropout</c>).</param>
    public IdentityLayer(string name, string kind)
        : base(name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        Kind = kind;
    }

    /// <inheritdoc />
    public override string Kind { get; }

    /// <inheritdoc />
    public override int[] OutputShape(IReadOnlyList<int> inputShape) => [.. inputShape];

    /// <inheritdoc />
    public override string Emit(OnnxGraphBuilder graph, string input, IReadOnlyList<int> inputShape) => input;
}
