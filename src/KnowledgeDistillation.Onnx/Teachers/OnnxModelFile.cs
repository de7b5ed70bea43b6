using KnowledgeDistillation.Onnx.Protobuf;

namespace KnowledgeDistillation.Onnx.Teachers;

/// <summary>Reads an ONNX file and checks its outer structure before ONNX Runtime parses it, so bad files fail with clear messages.</summary>
internal static class OnnxModelFile
{
    /// <summary>Reads <paramref name="path"/> and checks that it is a well-formed ONNX ModelProto with a graph.</summary>
    /// <exception cref="ArgumentException">The path is empty or the file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is empty, truncated or not an ONNX model.</exception>
    public static byte[] Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new ArgumentException($"ONNX model file '{path}' does not exist.", nameof(path));
        }
        byte[] bytes = File.ReadAllBytes(path);
        Validate(bytes, path);
        return bytes;
    }

    /// <summary>Checks that <paramref name="bytes"/> look like an ONNX ModelProto (version, graph, opsets; all well-formed).</summary>
    /// <exception cref="InvalidDataException">They do not; the message names <paramref name="source"/> and the problem.</exception>
    public static void Validate(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length == 0)
        {
            throw new InvalidDataException($"ONNX model '{source}' is empty (0 bytes).");
        }
        var fields = new List<ProtoReader.Field>();
        if (!ProtoReader.TryReadFields(bytes, fields, out string? error))
        {
            throw new InvalidDataException($"'{source}' is not a valid ONNX model: {error}.");
        }
        // ModelProto: ir_version = 1 (varint), opset_import = 8, graph = 7 (messages), strings 2-6, metadata_props = 14.
        ProtoReader.Field? irVersion = null;
        ProtoReader.Field? graph = null;
        foreach (ProtoReader.Field field in fields)
        {
            int expectedWireType = field.Number switch
            {
                1 or 5 => 0,
                2 or 3 or 4 or 6 or 7 or 8 or 14 or 20 or 25 => 2,
                _ => -1,
            };
            if (expectedWireType >= 0 && field.WireType != expectedWireType)
            {
                throw new InvalidDataException(
                    $"'{source}' is not an ONNX model: ModelProto field {field.Number} has wire type {field.WireType}, expected {expectedWireType}.");
            }
            if (field.Number == 1)
            {
                irVersion = field;
            }
            else if (field.Number == 7)
            {
                graph = field;
            }
        }
        if (irVersion is null || graph is null)
        {
            throw new InvalidDataException(
                $"'{source}' is not an ONNX model: it has no {(irVersion is null ? "IR version (field 1)" : "graph (field 7)")}.");
        }
        if (irVersion.Value.Varint is < 3 or > 100)
        {
            throw new InvalidDataException($"'{source}' is not an ONNX model: IR version {irVersion.Value.Varint} is out of range.");
        }
        var graphFields = new List<ProtoReader.Field>();
        if (!ProtoReader.TryReadFields(bytes.Slice(graph.Value.Offset, graph.Value.Length), graphFields, out error))
        {
            throw new InvalidDataException($"'{source}' is not a valid ONNX model: its graph is malformed ({error}).");
        }
    }
}
