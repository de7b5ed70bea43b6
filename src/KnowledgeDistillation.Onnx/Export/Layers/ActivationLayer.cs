namespace KnowledgeDistillation.Onnx.Export.Layers;

/// <summary>An element-wise activation.</summary>
public sealed class ActivationLayer : OnnxLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">The layer's name.</param>
    /// <param name="activation">Which function.</param>
    /// <param name="alpha">The negative slope of <see cref="ActivationKind.LeakyRelu"/>; ignored otherwise.</param>
    public ActivationLayer(string name, ActivationKind activation, float alpha = 0.01f)
        : base(name)
    {
        Activation = activation;
        Alpha = alpha;
    }

    /// <summary>Which function.</summary>
    public ActivationKind Activation { get; }

    /// <summary>The LeakyReLU slope.</summary>
    public float Alpha { get; }

    /// <inheritdoc />
    public override string Kind => Activation.ToString();

    /// <inheritdoc />
    public override int[] OutputShape(IReadOnlyList<int> inputShape) => [.. inputShape];

    /// <inheritdoc />
    public override string Emit(OnnxGraphBuilder graph, string input, IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(graph);
        switch (Activation)
        {
            case ActivationKind.Relu:
                return graph.AddNode("Relu", [input], Name);
            case ActivationKind.Sigmoid:
                return graph.AddNode("Sigmoid", [input], Name);
            case ActivationKind.Tanh:
                return graph.AddNode("Tanh", [input], Name);
            case ActivationKind.LeakyRelu:
                return graph.AddNode("LeakyRelu", [input], Name, OnnxAttribute.Float("alpha", Alpha));
            case ActivationKind.Silu:
                return graph.AddNode("Mul", [input, graph.AddNode("Sigmoid", [input], Name + ".sigmoid")], Name);
            case ActivationKind.Gelu:
            {
                // 0.5 · x · (1 + erf(x / √2))
                string scaled = graph.AddNode("Mul", [input, Scalar(graph, "inv_sqrt2", 0.70710678118654752f)], Name + ".scaled");
                string erf = graph.AddNode("Erf", [scaled], Name + ".erf");
                string onePlus = graph.AddNode("Add", [erf, Scalar(graph, "one", 1f)], Name + ".one_plus");
                string half = graph.AddNode("Mul", [input, Scalar(graph, "half", 0.5f)], Name + ".half");
                return graph.AddNode("Mul", [half, onePlus], Name);
            }
            case ActivationKind.GeluTanh:
            {
                // 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 x³)))
                string cube = graph.AddNode("Mul", [graph.AddNode("Mul", [input, input], Name + ".sq"), input], Name + ".cube");
                string inner = graph.AddNode("Add", [input, graph.AddNode("Mul", [cube, Scalar(graph, "c", 0.044715f)], Name + ".c_cube")], Name + ".inner");
                string tanh = graph.AddNode("Tanh", [graph.AddNode("Mul", [inner, Scalar(graph, "k", 0.7978845608028654f)], Name + ".k_inner")], Name + ".tanh");
                string onePlus = graph.AddNode("Add", [tanh, Scalar(graph, "one", 1f)], Name + ".one_plus");
                string half = graph.AddNode("Mul", [input, Scalar(graph, "half", 0.5f)], Name + ".half");
                return graph.AddNode("Mul", [half, onePlus], Name);
            }
            default:
                throw new NotSupportedException($"Activation {Activation} of layer '{Name}' has no ONNX form.");
        }
    }

    private string Scalar(OnnxGraphBuilder graph, string what, float value) => graph.AddConstant($"{Name}.{what}", [value]);
}
