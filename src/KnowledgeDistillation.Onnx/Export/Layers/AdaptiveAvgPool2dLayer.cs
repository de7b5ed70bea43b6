namespace KnowledgeDistillation.Onnx.Export.Layers;

/// <summary>
/// Adaptive average pooling to a fixed output size: GlobalAveragePool for <c>1×1</c>, an AveragePool when the input
/// divides evenly (the export knows the input size), an error otherwise.
/// </summary>
public sealed class AdaptiveAvgPool2dLayer : OnnxLayer
{
    /// <summary>Creates the layer.</summary>
    public AdaptiveAvgPool2dLayer(string name, int outputHeight, int outputWidth)
        : base(name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outputHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputWidth, 1);
        OutputHeight = outputHeight;
        OutputWidth = outputWidth;
    }

    /// <summary>Output height.</summary>
    public int OutputHeight { get; }

    /// <summary>Output width.</summary>
    public int OutputWidth { get; }

    /// <inheritdoc />
    public override string Kind => "AdaptiveAvgPool2d";

    /// <inheritdoc />
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Count != 3)
        {
            throw new ArgumentException($"Adaptive pooling layer '{Name}' takes [C, H, W] samples but receives {ShapeText(inputShape)}.", nameof(inputShape));
        }
        if ((OutputHeight, OutputWidth) != (1, 1) && (inputShape[1] % OutputHeight != 0 || inputShape[2] % OutputWidth != 0))
        {
            throw new NotSupportedException(
                $"Adaptive pooling layer '{Name}' ({Kind}) to {OutputHeight}×{OutputWidth} from {inputShape[1]}×{inputShape[2]} has uneven windows, which ONNX has no operator for; use an output size that divides the input.");
        }
        return [inputShape[0], OutputHeight, OutputWidth];
    }

    /// <inheritdoc />
    public override string Emit(OnnxGraphBuilder graph, string input, IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(inputShape);
        if ((OutputHeight, OutputWidth) == (1, 1))
        {
            return graph.AddNode("GlobalAveragePool", [input], Name);
        }
        int kh = inputShape[1] / OutputHeight, kw = inputShape[2] / OutputWidth;
        return graph.AddNode("AveragePool", [input], Name, OnnxAttribute.Ints("kernel_shape", kh, kw), OnnxAttribute.Ints("strides", kh, kw));
    }
}
