namespace KnowledgeDistillation.Onnx.Export.Layers;

/// <summary>A 2-D convolution (ONNX Conv) with zero padding.</summary>
public sealed class Conv2dLayer : OnnxLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">The layer's name.</param>
    /// <param name="weight">The weights, <c>[outChannels, inChannels / groups, kernelH, kernelW]</c> row-major.</param>
    /// <param name="bias">The bias, <c>[outChannels]</c>, or null.</param>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernel">Kernel height and width.</param>
    /// <param name="stride">Stride (height, width).</param>
    /// <param name="padding">Zero padding (height, width), on both sides.</param>
    /// <param name="dilation">Dilation (height, width).</param>
    /// <param name="groups">Groups.</param>
    public Conv2dLayer(string name, float[] weight, float[]? bias, int inChannels, int outChannels, (int H, int W) kernel, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        if (inChannels % groups != 0 || outChannels % groups != 0)
        {
            throw new ArgumentException($"Conv2d layer '{name}': {groups} groups do not divide {inChannels} input and {outChannels} output channels.", nameof(groups));
        }
        if (weight.Length != (long)outChannels * (inChannels / groups) * kernel.H * kernel.W || (bias is not null && bias.Length != outChannels))
        {
            throw new ArgumentException($"Conv2d layer '{name}': weight/bias sizes do not match [{outChannels}, {inChannels / groups}, {kernel.H}, {kernel.W}].", nameof(weight));
        }
        Weight = weight;
        Bias = bias;
        InChannels = inChannels;
        OutChannels = outChannels;
        Kernel = kernel;
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
        Groups = groups;
    }

    /// <summary>The weights.</summary>
    public float[] Weight { get; }

    /// <summary>The bias, or null.</summary>
    public float[]? Bias { get; }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel size.</summary>
    public (int H, int W) Kernel { get; }

    /// <summary>Stride.</summary>
    public (int H, int W) Stride { get; }

    /// <summary>Padding.</summary>
    public (int H, int W) Padding { get; }

    /// <summary>Dilation.</summary>
    public (int H, int W) Dilation { get; }

    /// <summary>Groups.</summary>
    public int Groups { get; }

    /// <inheritdoc />
    public override string Kind => "Conv2d";

    /// <inheritdoc />
    public override long ParameterCount => Weight.Length + (Bias?.Length ?? 0);

    /// <summary>A copy with other weights and bias (used when a following batch norm is folded in).</summary>
    public Conv2dLayer WithParameters(float[] weight, float[] bias) =>
        new(Name, weight, bias, InChannels, OutChannels, Kernel, Stride, Padding, Dilation, Groups);

    /// <inheritdoc />
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Count != 3 || inputShape[0] != InChannels)
        {
            throw new ArgumentException($"Conv2d layer '{Name}' takes [{InChannels}, H, W] samples but receives {ShapeText(inputShape)}.", nameof(inputShape));
        }
        int h = ((inputShape[1] + (2 * Padding.H) - (Dilation.H * (Kernel.H - 1)) - 1) / Stride.H) + 1;
        int w = ((inputShape[2] + (2 * Padding.W) - (Dilation.W * (Kernel.W - 1)) - 1) / Stride.W) + 1;
        if (h < 1 || w < 1)
        {
            throw new ArgumentException($"Conv2d layer '{Name}': a {ShapeText(inputShape)} input is smaller than the kernel.", nameof(inputShape));
        }
        return [OutChannels, h, w];
    }

    /// <inheritdoc />
    public override string Emit(OnnxGraphBuilder graph, string input, IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(graph);
        string w = graph.AddWeight(Name + ".weight", Weight, [OutChannels, InChannels / Groups, Kernel.H, Kernel.W], channelAxis: 0);
        string[] inputs = Bias is null ? [input, w] : [input, w, graph.AddBias(Name + ".bias", Bias, input, w)];
        return graph.AddNode("Conv", inputs, Name,
            OnnxAttribute.Ints("kernel_shape", Kernel.H, Kernel.W),
            OnnxAttribute.Ints("strides", Stride.H, Stride.W),
            OnnxAttribute.Ints("pads", Padding.H, Padding.W, Padding.H, Padding.W),
            OnnxAttribute.Ints("dilations", Dilation.H, Dilation.W),
            OnnxAttribute.Int("group", Groups));
    }
}
