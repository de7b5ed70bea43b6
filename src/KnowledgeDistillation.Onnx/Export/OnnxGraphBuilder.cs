using System.Runtime.InteropServices;
using KnowledgeDistillation.Onnx.Protobuf;

namespace KnowledgeDistillation.Onnx.Export;

/// <summary>
/// Collects the nodes and initializers of an ONNX graph while layers emit themselves (see <see cref="OnnxLayer.Emit"/>).
/// Tensor names are made unique automatically. In an int8 export, <see cref="AddWeight"/> stores weights as per-channel
/// int8 with a DequantizeLinear node, so layers need no quantization code of their own.
/// </summary>
public sealed class OnnxGraphBuilder
{
    private readonly List<ProtoWriter> _nodes = [];
    private readonly List<ProtoWriter> _initializers = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private bool _quantizeWeights;
    private readonly Dictionary<string, float[]> _weightScales = new(StringComparer.Ordinal);
    private readonly Dictionary<string, float> _activationScales = new(StringComparer.Ordinal);
    private readonly Dictionary<(float, byte), (string Scale, string ZeroPoint)> _activationParameters = [];

    internal OnnxGraphBuilder(bool quantizeWeights)
    {
        _quantizeWeights = quantizeWeights;
    }

    /// <summary>Whether weights added through <see cref="AddWeight"/> are stored as int8.</summary>
    public bool QuantizesWeights => _quantizeWeights;

    /// <summary>Switches weight quantization off and on (layers kept in float32 inside an int8 export).</summary>
    internal bool QuantizeWeightsNow
    {
        get => _quantizeWeights;
        set => _quantizeWeights = value;
    }

    internal IReadOnlyList<ProtoWriter> Nodes => _nodes;

    internal IReadOnlyList<ProtoWriter> Initializers => _initializers;

    internal long WeightBytes { get; private set; }

    /// <summary>Returns a tensor name based on <paramref name="hint"/> that is not used yet, and reserves it.</summary>
    public string UniqueName(string hint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(hint);
        string name = hint;
        for (int i = 1; !_names.Add(name); i++)
        {
            name = $"{hint}_{i}";
        }
        return name;
    }

    /// <summary>Adds a float constant and returns its name.</summary>
    public string AddConstant(string hint, ReadOnlySpan<float> data, params long[] dims)
    {
        string name = UniqueName(hint);
        _initializers.Add(Tensor(name, 1, MemoryMarshal.AsBytes(data), dims));
        return name;
    }

    /// <summary>Adds an int64 constant (shapes, axes) and returns its name.</summary>
    public string AddInt64Constant(string hint, ReadOnlySpan<long> data, params long[] dims)
    {
        string name = UniqueName(hint);
        _initializers.Add(Tensor(name, 7, MemoryMarshal.AsBytes(data), dims));
        return name;
    }

    /// <summary>
    /// Adds a weight tensor and returns the name of a float tensor holding it: the constant itself, or in an int8 export
    /// the output of a DequantizeLinear over symmetric per-channel int8 values along <paramref name="channelAxis"/>.
    /// </summary>
    public string AddWeight(string hint, ReadOnlySpan<float> data, long[] dims, int channelAxis)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (!_quantizeWeights)
        {
            WeightBytes += data.Length * sizeof(float);
            return AddConstant(hint, data, dims);
        }
        (sbyte[] values, float[] scales) = QuantizePerChannel(data, dims, channelAxis);
        WeightBytes += values.Length + scales.Length * sizeof(float);
        string q = UniqueName(hint + "_int8");
        _initializers.Add(Tensor(q, 3, MemoryMarshal.AsBytes(values.AsSpan()), dims));
        string scale = AddConstant(hint + "_scale", scales, scales.Length);
        string zero = UniqueName(hint + "_zero_point");
        _initializers.Add(Tensor(zero, 3, new byte[scales.Length], scales.Length));
        string dequantized = AddNode("DequantizeLinear", [q, scale, zero], hint, OnnxAttribute.Int("axis", channelAxis));
        _weightScales[dequantized] = scales;
        return dequantized;
    }

    /// <summary>
    /// Adds the bias of a layer computing <c>input · weight</c> and returns the name of a float tensor holding it. When both
    /// the input activation and the weight are quantized (a static int8 export), the bias is stored as int32 with scale
    /// <c>input scale × weight scale</c> per channel, the form ONNX Runtime needs to fuse integer kernels.
    /// </summary>
    public string AddBias(string hint, ReadOnlySpan<float> bias, string input, string weight)
    {
        if (!_activationScales.TryGetValue(input, out float inputScale) || !_weightScales.TryGetValue(weight, out float[]? weightScales) || weightScales.Length != bias.Length)
        {
            return AddConstant(hint, bias, bias.Length);
        }
        float[] scales = weightScales.Select(w => w * inputScale).ToArray();
        int[] values = new int[bias.Length];
        for (int i = 0; i < bias.Length; i++)
        {
            values[i] = (int)Math.Clamp(Math.Round(bias[i] / (double)scales[i], MidpointRounding.ToEven), int.MinValue, int.MaxValue);
        }
        WeightBytes += (values.Length + scales.Length) * 4L;
        string q = UniqueName(hint + "_int32");
        _initializers.Add(Tensor(q, 6, MemoryMarshal.AsBytes(values.AsSpan()), values.Length));
        string scale = AddConstant(hint + "_scale", scales, scales.Length);
        // An int32 zero point is always 0, the default when it is left out.
        return AddNode("DequantizeLinear", [q, scale], hint, OnnxAttribute.Int("axis", 0));
    }

    /// <summary>Quantizes <paramref name="input"/> to uint8 and back (QuantizeLinear → DequantizeLinear); returns the dequantized tensor's name.</summary>
    internal string QuantizeDequantize(string input, float scale, byte zeroPoint)
    {
        // Pairs with the same parameters (around max-pooling and flatten) share one scale and zero point.
        if (!_activationParameters.TryGetValue((scale, zeroPoint), out (string Scale, string ZeroPoint) names))
        {
            names.Scale = AddConstant(input + "_s", [scale]);
            names.ZeroPoint = UniqueName(input + "_zp");
            _initializers.Add(Tensor(names.ZeroPoint, 2, [zeroPoint]));
            _activationParameters[(scale, zeroPoint)] = names;
        }
        string q = AddNode("QuantizeLinear", [input, names.Scale, names.ZeroPoint], input + "_q");
        string dq = AddNode("DequantizeLinear", [q, names.Scale, names.ZeroPoint], input + "_dq");
        _activationScales[dq] = scale;
        return dq;
    }

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string AddNode(string opType, IReadOnlyList<string> inputs, string outputHint, params OnnxAttribute[] attributes) =>
        AddNode(opType, inputs, [outputHint], attributes)[0];

    /// <summary>Adds a node and returns its outputs' names (made unique from <paramref name="outputHints"/>).</summary>
    public IReadOnlyList<string> AddNode(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputHints, params OnnxAttribute[] attributes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(opType);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputHints);
        ArgumentNullException.ThrowIfNull(attributes);
        return AddNodeWithOutputs(opType, inputs, outputHints.Select(UniqueName).ToArray(), attributes);
    }

    /// <summary>Adds a node whose outputs carry exactly the given (already reserved) names: graph outputs.</summary>
    internal IReadOnlyList<string> AddNodeWithOutputs(string opType, IReadOnlyList<string> inputs, string[] outputs, params OnnxAttribute[] attributes)
    {
        var node = new ProtoWriter();
        foreach (string input in inputs)
        {
            node.String(1, input);
        }
        foreach (string output in outputs)
        {
            node.String(2, output);
        }
        // Node names are optional in ONNX; leaving them out keeps small int8 models small.
        node.String(4, opType);
        foreach (OnnxAttribute attribute in attributes)
        {
            node.Message(5, Attribute(attribute));
        }
        _nodes.Add(node);
        return outputs;
    }

    internal static (sbyte[] Values, float[] Scales) QuantizePerChannel(ReadOnlySpan<float> data, long[] dims, int axis)
    {
        int channels = (int)dims[axis];
        long inner = 1;
        for (int i = axis + 1; i < dims.Length; i++)
        {
            inner *= dims[i];
        }
        float[] maxAbs = new float[channels];
        for (int i = 0; i < data.Length; i++)
        {
            int c = (int)(i / inner % channels);
            maxAbs[c] = Math.Max(maxAbs[c], Math.Abs(data[i]));
        }
        float[] scales = maxAbs.Select(m => m > 0 ? m / 127f : 1f).ToArray();
        sbyte[] values = new sbyte[data.Length];
        for (int i = 0; i < data.Length; i++)
        {
            int c = (int)(i / inner % channels);
            values[i] = (sbyte)Math.Clamp(MathF.Round(data[i] / scales[c], MidpointRounding.ToEven), -127f, 127f);
        }
        return (values, scales);
    }

    internal static ProtoWriter Tensor(string name, int dataType, ReadOnlySpan<byte> raw, params long[] dims)
    {
        var tensor = new ProtoWriter();
        foreach (long d in dims)
        {
            tensor.Varint(1, d);
        }
        tensor.Varint(2, dataType);
        tensor.String(8, name);
        tensor.Bytes(9, raw);
        return tensor;
    }

    private static ProtoWriter Attribute(OnnxAttribute attribute)
    {
        var a = new ProtoWriter().String(1, attribute.Name);
        if (attribute.IntValue is { } i)
        {
            a.Varint(3, i).Varint(20, 2);
        }
        else if (attribute.FloatValue is { } f)
        {
            a.Fixed32(2, f).Varint(20, 1);
        }
        else if (attribute.IntsValue is { } ints)
        {
            foreach (long v in ints)
            {
                a.Varint(8, v);
            }
            a.Varint(20, 7);
        }
        else
        {
            a.String(4, attribute.StringValue ?? "").Varint(20, 3);
        }
        return a;
    }
}
