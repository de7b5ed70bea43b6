namespace KnowledgeDistillation.Onnx.Export.Layers;

/// <summary>Element-wise activations the exporter writes.</summary>
public enum ActivationKind
{
    /// <summary>max(x, 0).</summary>
    Relu,

    /// <summary>GELU, exact form <c>x · Φ(x)</c> (written with Erf, as opset 17 has no Gelu).</summary>
    Gelu,

    /// <summary>GELU, tanh approximation.</summary>
    GeluTanh,

    /// <summary>1 / (1 + e^−x).</summary>
    Sigmoid,

    /// <summary>tanh(x).</summary>
    Tanh,

    /// <summary>x · sigmoid(x).</summary>
    Silu,

    /// <summary>x for x ≥ 0, αx otherwise.</summary>
    LeakyRelu,
}
