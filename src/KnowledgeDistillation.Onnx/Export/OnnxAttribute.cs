namespace KnowledgeDistillation.Onnx.Export;

/// <summary>An ONNX node attribute: an integer, a float, a list of integers or a string.</summary>
public sealed class OnnxAttribute
{
    private OnnxAttribute(string name)
    {
        Name = name;
    }

    /// <summary>The attribute's name (for example <c>kernel_shape</c>).</summary>
    public string Name { get; }

    internal long? IntValue { get; private init; }

    internal float? FloatValue { get; private init; }

    internal long[]? IntsValue { get; private init; }

    internal string? StringValue { get; private init; }

    /// <summary>An integer attribute.</summary>
    public static OnnxAttribute Int(string name, long value) => new(name) { IntValue = value };

    /// <summary>A float attribute.</summary>
    public static OnnxAttribute Float(string name, float value) => new(name) { FloatValue = value };

    /// <summary>A list-of-integers attribute.</summary>
    public static OnnxAttribute Ints(string name, params long[] values) => new(name) { IntsValue = values };

    /// <summary>A string attribute.</summary>
    public static OnnxAttribute String(string name, string value) => new(name) { StringValue = value };
}
