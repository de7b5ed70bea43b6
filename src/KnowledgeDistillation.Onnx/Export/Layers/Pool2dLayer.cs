namespace KnowledgeDistillation.Onnx.Export.Layers;

/// <summary>2-D max or average pooling (MaxPool / AveragePool).</summary>
public sealed class Pool2dLayer : OnnxLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">The layer's name.</param>
    /// <param name="pool">Max or average.</param>
    /// <param name="kernel">Window (height, width).</param>
    /// <param name="stride">Stride (height, width).</param>
    /// <param name="padding">Padding (height, width), both sides.</param>
    /// <param name="dilation">Dilation (max pooling only).</param>
    /// <param name="ceilMode">Round output sizes up.</param>
    /// <param name="countIncludePad">Average pooling: whether padded zeros count in the divisor.</param>
    public Pool2dLayer(string name, PoolKind pool, (int H, int W) kernel, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, bool ceilMode, bool countIncludePad)
        : base(name)
    {
        if (kernel.H < 1 || kernel.W < 1 || stride.H < 1 || stride.W < 1 || padding.H < 0 || padding.W < 0 || dilation.H < 1 || dilation.W < 1)
        {
            throw new ArgumentException($"Pooling layer '{name}': kernel, stride and dilation must be positive and padding non-negative.", nameof(kernel));
        }
        if (pool == PoolKind.Average && dilation != (1, 1))
        {
            throw new ArgumentException($"Average pooling layer '{name}' cannot be dilated.", nameof(dilation));
        }
        Pool = pool;
        Kernel = kernel;
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
        CeilMode = ceilMode;
        CountIncludePad = countIncludePad;
    }

    /// <summary>Max or average.</summary>
    public PoolKind Pool { get; }

    /// <summary>Window.</summary>
    public (int H, int W) Kernel { get; }

    /// <summary>Stride.</summary>
    public (int H, int W) Stride { get; }

    /// <summary>Padding.</summary>
    public (int H, int W) Padding { get; }

    /// <summary>Dilation.</summary>
    public (int H, int W) Dilation { get; }

    /// <summary>Ceil mode.</summary>
    public bool CeilMode { get; }

    /// <summary>Whether padding counts in averages.</summary>
    public bool CountIncludePad { get; }

    /// <inheritdoc />
    public override string Kind => Pool == PoolKind.Max ? "MaxPool2d" : "AvgPool2d";

    /// <inheritdoc />
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Count != 3)
        {
            throw new ArgumentException($"Pooling layer '{Name}' takes [C, H, W] samples but receives {ShapeText(inputShape)}.", nameof(inputShape));
        }
        int h = Size(inputShape[1], Kernel.H, Stride.H, Padding.H, Dilation.H);
        int w = Size(inputShape[2], Kernel.W, Stride.W, Padding.W, Dilation.W);
        if (h < 1 || w < 1)
        {
            throw new ArgumentException($"Pooling layer '{Name}': a {ShapeText(inputShape)} input is smaller than the window.", nameof(inputShape));
        }
        return [inputShape[0], h, w];
    }

    /// <inheritdoc />
    public override string Emit(OnnxGraphBuilder graph, string input, IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var attributes = new List<OnnxAttribute>
        {
            OnnxAttribute.Ints("kernel_shape", Kernel.H, Kernel.W),
            OnnxAttribute.Ints("strides", Stride.H, Stride.W),
            OnnxAttribute.Ints("pads", Padding.H, Padding.W, Padding.H, Padding.W),
            OnnxAttribute.Int("ceil_mode", CeilMode ? 1 : 0),
        };
        if (Pool == PoolKind.Max)
        {
            attributes.Add(OnnxAttribute.Ints("dilations", Dilation.H, Dilation.W));
            return graph.AddNode("MaxPool", [input], Name, [.. attributes]);
        }
        attributes.Add(OnnxAttribute.Int("count_include_pad", CountIncludePad ? 1 : 0));
        return graph.AddNode("AveragePool", [input], Name, [.. attributes]);
    }

    private int Size(int input, int kernel, int stride, int padding, int dilation)
    {
        double size = ((double)(input + (2 * padding) - (dilation * (kernel - 1)) - 1) / stride) + 1;
        int result = CeilMode ? (int)Math.Ceiling(size) : (int)Math.Floor(size);
        // PyTorch: the last window must start inside the input or left padding.
        if (CeilMode && (result - 1) * stride >= input + padding)
        {
            result--;
        }
        return result;
    }
}
