using System.Globalization;
using System.Reflection;
using KnowledgeDistillation.Onnx.Protobuf;

namespace KnowledgeDistillation.Onnx.Export;

/// <summary>
/// Writes the ModelProto around an emitted graph: nodes and initializers, input and output value infos (with a symbolic
/// <c>batch</c> dimension), IR version, opset, producer and the <c>kd.*</c> metadata.
/// </summary>
internal static class OnnxModelSerializer
{
    /// <summary>Serializes the graph <paramref name="builder"/> holds, with the given graph outputs.</summary>
    /// <param name="graph">The model (name, input shape, classes, parameter count).</param>
    /// <param name="options">The input name and the metadata to write.</param>
    /// <param name="builder">The nodes and initializers.</param>
    /// <param name="outputs">The graph outputs and their sample shapes, in order.</param>
    /// <param name="quantization">The mode, for metadata <c>kd.quantization</c> and the doc string.</param>
    public static byte[] Serialize(StudentGraph graph, OnnxExportOptions options, OnnxGraphBuilder builder, IReadOnlyList<(string Name, IReadOnlyList<int> Shape)> outputs, string quantization)
    {
        var g = new ProtoWriter();
        foreach (ProtoWriter node in builder.Nodes)
        {
            g.Message(1, node);
        }
        g.String(2, graph.Name);
        foreach (ProtoWriter initializer in builder.Initializers)
        {
            g.Message(5, initializer);
        }
        g.Message(11, ValueInfo(options.InputName, graph.InputShape));
        foreach ((string name, IReadOnlyList<int> shape) in outputs)
        {
            g.Message(12, ValueInfo(name, shape));
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["kd.model"] = graph.Name,
            ["kd.input_shape"] = string.Join(",", graph.InputShape),
            ["kd.class_count"] = graph.ClassCount.ToString(CultureInfo.InvariantCulture),
            ["kd.parameters"] = graph.ParameterCount.ToString(CultureInfo.InvariantCulture),
            ["kd.quantization"] = quantization,
            ["kd.exported_at"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        };
        if (options.TeacherId is not null)
        {
            metadata["kd.teacher"] = options.TeacherId;
        }
        if (options.Temperature is { } t)
        {
            metadata["kd.temperature"] = t.ToString("R", CultureInfo.InvariantCulture);
        }
        if (options.Accuracy is { } a)
        {
            metadata["kd.accuracy"] = a.ToString("R", CultureInfo.InvariantCulture);
        }
        foreach ((string key, string value) in options.Metadata)
        {
            metadata[key] = value;
        }

        var model = new ProtoWriter()
            .Varint(1, OnnxExporter.IrVersion)
            .String(2, OnnxExporter.Producer)
            .String(3, typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0")
            .String(4, "ai.knowledgedistillation")
            .Varint(5, 1)
            .String(6, $"Student '{graph.Name}' exported by KnowledgeDistillation ({quantization}).")
            .Message(7, g)
            .Message(8, new ProtoWriter().String(1, "").Varint(2, OnnxExporter.Opset));
        foreach ((string key, string value) in metadata)
        {
            model.Message(14, new ProtoWriter().String(1, key).String(2, value));
        }
        return model.ToArray();
    }

    private static ProtoWriter ValueInfo(string name, IReadOnlyList<int> sampleShape)
    {
        var shape = new ProtoWriter().Message(1, new ProtoWriter().String(2, "batch"));
        foreach (int d in sampleShape)
        {
            shape.Message(1, new ProtoWriter().Varint(1, d));
        }
        var tensorType = new ProtoWriter().Varint(1, 1).Message(2, shape);
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensorType));
    }
}
