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
