namespace KnowledgeDistillation.Onnx.Export.Layers;

/// <summary>A fully connected layer <c>y = x Wᵀ + b</c> (Gemm for <c>[batch, features]</c> inputs, MatMul+Add otherwise).</summary>
public sealed class LinearLayer : OnnxLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">The layer's name.</param>
    /// <param name="weight">The weights, <c>[outFeatures, inFeatures]</c> row-major.</param>
    /// <param name="bias">The bias, <c>[outFeatures]</c>, or null.</param>
    /// <param name="inFeatures">Input features.</param>
    /// <param name="outFeatures">Output features.</param>
    public LinearLayer(string name, float[] weight, float[]? bias, int inFeatures, int outFeatures)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        if (weight.Length != (long)inFeatures * outFeatures || (bias is not null && bias.Length != outFeatures))
        {
            throw new ArgumentException($"Linear layer '{name}': weight/bias sizes do not match [{outFeatures}, {inFeatures}].", nameof(weight));
        }
        Weight = weight;
        Bias = bias;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
    }

    /// <summary>The weights, <c>[outFeatures, inFeatures]</c>.</summary>
    public float[] Weight { get; }

    /// <summary>The bias, or null.</summary>
    public float[]? Bias { get; }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <inheritdoc />
    public override string Kind => "Linear";

    /// <inheritdoc />
    public override long ParameterCount => Weight.Length + (Bias?.Length ?? 0);

    /// <inheritdoc />
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Count == 0 || inputShape[^1] != InFeatures)
        {
            throw new ArgumentException($"Linear layer '{Name}' takes {InFeatures} features but receives samples of shape {ShapeText(inputShape)}.", nameof(inputShape));
        }
        return [.. inputShape.Take(inputShape.Count - 1), OutFeatures];
    }

    /// <inheritdoc />
    public override string Emit(OnnxGraphBuilder graph, string input, IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Count == 1)
        {
            string w = graph.AddWeight(Name + ".weight", Weight, [OutFeatures, InFeatures], channelAxis: 0);
            string[] inputs = Bias is null ? [input, w] : [input, w, graph.AddBias(Name + ".bias", Bias, input, w)];
            return graph.AddNode("Gemm", inputs, Name, OnnxAttribute.Int("transB", 1));
        }
        float[] transposed = new float[Weight.Length];
        for (int o = 0; o < OutFeatures; o++)
        {
            for (int i = 0; i < InFeatures; i++)
            {
                transposed[(i * OutFeatures) + o] = Weight[(o * InFeatures) + i];
            }
        }
        string wt = graph.AddWeight(Name + ".weight_t", transposed, [InFeatures, OutFeatures], channelAxis: 1);
        string product = graph.AddNode("MatMul", [input, wt], Bias is null ? Name : Name + ".matmul");
        return Bias is null ? product : graph.AddNode("Add", [product, graph.AddConstant(Name + ".bias", Bias, OutFeatures)], Name);
    }
}
