namespace KnowledgeDistillation.Onnx.Export.Layers;

/// <summary>Flattens sample dimensions <c>startDim..endDim</c> (torch numbering, batch = 0; start ≥ 1).</summary>
public sealed class FlattenLayer : OnnxLayer
{
    /// <summary>Creates the layer.</summary>
    /// <exception cref="NotSupportedException"><paramref name="startDim"/> is 0 (flattening the batch dimension cannot be exported with a dynamic batch).</exception>
    public FlattenLayer(string name, int startDim = 1, int endDim = -1)
        : base(name)
    {
        if (startDim == 0)
        {
            throw new NotSupportedException($"Flatten layer '{name}' flattens the batch dimension (start_dim=0), which an export with a dynamic batch cannot express.");
        }
        StartDim = startDim;
        EndDim = endDim;
    }

    /// <summary>First dimension flattened.</summary>
    public int StartDim { get; }

    /// <summary>Last dimension flattened (negative counts from the end).</summary>
    public int EndDim { get; }

    /// <inheritdoc />
    public override string Kind => "Flatten";

    /// <inheritdoc />
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        int rank = inputShape.Count + 1;
        int start = StartDim < 0 ? StartDim + rank : StartDim;
        int end = EndDim < 0 ? EndDim + rank : EndDim;
        if (start < 1 || end >= rank || start > end)
        {
            throw new ArgumentException($"Flatten layer '{Name}' (start {StartDim}, end {EndDim}) does not fit samples of shape {ShapeText(inputShape)}.", nameof(inputShape));
        }
        var dims = new List<int>();
        for (int d = 1; d < rank; d++)
        {
            if (d <= start || d > end)
            {
                dims.Add(inputShape[d - 1]);
            }
            else
            {
                dims[^1] *= inputShape[d - 1];
            }
        }
        return [.. dims];
    }

    /// <inheritdoc />
    public override string Emit(OnnxGraphBuilder graph, string input, IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(graph);
        int[] output = OutputShape(inputShape);
        if (output.Length == 1)
        {
            return graph.AddNode("Flatten", [input], Name, OnnxAttribute.Int("axis", 1));
        }
        long[] shape = [0, .. output.Select(d => (long)d)];
        return graph.AddNode("Reshape", [input, graph.AddInt64Constant(Name + ".shape", shape, shape.Length)], Name);
    }
}
