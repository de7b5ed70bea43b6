using System.Text;

namespace KnowledgeDistillation.Onnx.Tests.Runtime;

/// <summary>Writes a minimal ONNX ModelProto by hand (protobuf wire format), independent of the library's exporter.</summary>
internal static class TinyOnnxModel
{
    /// <summary>y = x + x with x: float[N, 3] (N dynamic), opset 17.</summary>
    public static byte[] AddSelf()
    {
        byte[] node = Concat(Str(1, "x"), Str(1, "x"), Str(2, "y"), Str(4, "Add"));
        byte[] graph = Concat(Msg(1, node), Str(2, "g"), Msg(11, ValueInfo("x")), Msg(12, ValueInfo("y")));
        byte[] opset = Concat(Str(1, ""), VarintField(2, 17));
        return Concat(VarintField(1, 8), Str(2, "test"), Msg(7, graph), Msg(8, opset));
    }

    /// <summary>y = Identity(x) with x and y of element type <paramref name="elementType"/> (1 = float, 7 = int64) and shape <paramref name="dims"/> (-1 = dynamic).</summary>
    public static byte[] Identity(int elementType, params long[] dims)
    {
        byte[] node = Concat(Str(1, "x"), Str(2, "y"), Str(4, "Identity"));
        byte[] graph = Concat(Msg(1, node), Str(2, "g"), Msg(11, ValueInfo("x", elementType, dims)), Msg(12, ValueInfo("y", elementType, dims)));
        byte[] opset = Concat(Str(1, ""), VarintField(2, 17));
        return Concat(VarintField(1, 8), Str(2, "test"), Msg(7, graph), Msg(8, opset));
    }

    /// <summary>
    /// logits = MatMul(Flatten(x), W) with x: float[N, C, H, W] whose every dimension is unspecified (symbolic), W: float[<paramref name="features"/>, <paramref name="classes"/>]
    /// zeros, and logits: float[N, <paramref name="classes"/>]. A valid model that accepts any input shape when loaded and
    /// fails in MatMul when run on samples of other than <paramref name="features"/> values.
    /// </summary>
    public static byte[] FlattenMatMul(int features, int classes)
    {
        byte[] flatten = Concat(Str(1, "x"), Str(2, "f"), Str(4, "Flatten"));
        byte[] matmul = Concat(Str(1, "f"), Str(1, "W"), Str(2, "logits"), Str(4, "MatMul"));
        // TensorProto: dims (1), data_type (2) = float, name (8), raw_data (9).
        byte[] weights = Concat(VarintField(1, (ulong)features), VarintField(1, (ulong)classes), VarintField(2, 1), Str(8, "W"), Msg(9, new byte[features * classes * sizeof(float)]));
        byte[] input = Concat(Str(1, "x"), Msg(2, Msg(1, Concat(VarintField(1, 1), Msg(2, Concat(Msg(1, Str(2, "N")), Msg(1, Str(2, "C")), Msg(1, Str(2, "H")), Msg(1, Str(2, "W"))))))));
        byte[] graph = Concat(Msg(1, flatten), Msg(1, matmul), Str(2, "g"), Msg(5, weights), Msg(11, input), Msg(12, ValueInfo("logits", 1, [-1, classes])));
        byte[] opset = Concat(Str(1, ""), VarintField(2, 17));
        return Concat(VarintField(1, 8), Str(2, "test"), Msg(7, graph), Msg(8, opset));
    }

    private static byte[] ValueInfo(string name, int elementType, long[] dims)
    {
        byte[] shape = dims.SelectMany(d => Msg(1, d < 0 ? Str(2, "N") : VarintField(1, (ulong)d))).ToArray();
        byte[] tensorType = Concat(VarintField(1, (ulong)elementType), Msg(2, shape));
        return Concat(Str(1, name), Msg(2, Msg(1, tensorType)));
    }

    private static byte[] ValueInfo(string name)
    {
        byte[] batch = Str(2, "N");
        byte[] three = VarintField(1, 3);
        byte[] shape = Concat(Msg(1, batch), Msg(1, three));
        byte[] tensorType = Concat(VarintField(1, 1), Msg(2, shape));
        return Concat(Str(1, name), Msg(2, Msg(1, tensorType)));
    }

    private static byte[] Str(int field, string value) => Msg(field, Encoding.UTF8.GetBytes(value));

    private static byte[] Msg(int field, byte[] payload) => Concat(Varint((ulong)((field << 3) | 2)), Varint((ulong)payload.Length), payload);

    private static byte[] VarintField(int field, ulong value) => Concat(Varint((ulong)(field << 3)), Varint(value));

    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value != 0 ? (byte)(b | 0x80) : b);
        }
        while (value != 0);
        return [.. bytes];
    }

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
