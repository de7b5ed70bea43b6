using System.Globalization;
using System.Reflection;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Onnx.Export.Layers;
using KnowledgeDistillation.Onnx.Protobuf;
using KnowledgeDistillation.Onnx.Quantization;
using Microsoft.ML.OnnxRuntime;

namespace KnowledgeDistillation.Onnx.Export;

/// <summary>
/// Writes a <see cref="StudentGraph"/> as an ONNX model (opset <see cref="Opset"/>, dynamic batch dimension, metadata),
/// in float32 or int8 (per-channel int8 weights; static calibrated or dynamic activations, QDQ format).
/// </summary>
/// <remarks>
/// Batch norms directly after a convolution or linear layer are folded into its weights. Dropout and identity layers
/// write no node. In a static int8 export every quantized convolution/linear layer reads a QuantizeLinear/DequantizeLinear
/// pair, stores its bias as int32, and a following ReLU is folded into its output quantization (zero point 0).
/// </remarks>
public static class OnnxExporter
{
    /// <summary>The ONNX operator set written.</summary>
    public const int Opset = 17;

    /// <summary>The ONNX IR version written (8 goes with opset 17).</summary>
    public const int IrVersion = 8;

    /// <summary>The producer name written into the model.</summary>
    public const string Producer = "KnowledgeDistillation";

    private const string TapPrefix = "kd.tap.";
    private const string InputKey = "\u0001input";

    private enum Mode
    {
        Float,
        Calibrate,
        Static,
        Dynamic,
    }

    /// <summary>Exports the model in float32.</summary>
    /// <exception cref="ArgumentException">The layers do not fit the input shape or the class count, or an intermediate name is unknown.</exception>
    public static byte[] Export(StudentGraph graph, OnnxExportOptions? options = null) =>
        Build(graph, options ?? new OnnxExportOptions(), Mode.Float, null, "none", null);

    /// <summary>Exports the model with int8 weights and int8 (static) or dynamically quantized activations.</summary>
    /// <param name="graph">The model.</param>
    /// <param name="calibration">Sample batches (for example a few hundred training images) for static activation ranges; ignored for dynamic.</param>
    /// <param name="quantization">Quantization settings; null for static min-max.</param>
    /// <param name="options">Names and metadata.</param>
    /// <exception cref="ArgumentException">Static quantization without calibration batches, or the graph does not fit.</exception>
    public static byte[] ExportInt8(StudentGraph graph, IEnumerable<Float32Tensor>? calibration, Int8QuantizationOptions? quantization = null, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        quantization ??= new Int8QuantizationOptions();
        options ??= new OnnxExportOptions();
        if (quantization.Activations == ActivationQuantization.Dynamic)
        {
            return Build(graph, options, Mode.Dynamic, null, "int8-dynamic", quantization);
        }
        if (quantization.Calibration == ActivationCalibration.Percentile && quantization.Percentile is <= 50 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(quantization), quantization.Percentile, "The calibration percentile must be in (50, 100].");
        }
        ArgumentNullException.ThrowIfNull(calibration, nameof(calibration));
        byte[] tapped = Build(graph, options, Mode.Calibrate, null, "calibration", quantization);
        Dictionary<string, (float Min, float Max)> ranges = Calibrate(tapped, options.InputName, calibration, quantization);
        string mode = quantization.Calibration == ActivationCalibration.MinMax
            ? "int8-static-minmax"
            : string.Create(CultureInfo.InvariantCulture, $"int8-static-percentile-{quantization.Percentile}");
        return Build(graph, options, Mode.Static, ranges, mode, quantization);
    }

    /// <summary>Writes an exported model to <paramref name="path"/> (creating the folder).</summary>
    public static void Save(byte[] model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }
        File.WriteAllBytes(path, model);
    }

    private sealed class Leaf(string name, OnnxLayer layer)
    {
        public string Name { get; } = name;

        public OnnxLayer Layer { get; set; } = layer;

        public List<string> Ends { get; } = [];
    }

    private static List<Leaf> Flatten(IEnumerable<OnnxLayer> layers)
    {
        var leaves = new List<Leaf>();
        void Add(OnnxLayer layer)
        {
            if (layer is SequenceLayer sequence)
            {
                int before = leaves.Count;
                foreach (OnnxLayer child in sequence.Layers)
                {
                    Add(child);
                }
                if (leaves.Count > before)
                {
                    leaves[^1].Ends.Add(sequence.Name);
                }
                else
                {
                    leaves.Add(new Leaf(sequence.Name, new IdentityLayer(sequence.Name, "Sequential")));
                }
                return;
            }
            leaves.Add(new Leaf(layer.Name, layer));
        }
        foreach (OnnxLayer layer in layers)
        {
            Add(layer);
        }
        return leaves;
    }

    private static List<int[]> Shapes(StudentGraph graph, List<Leaf> leaves)
    {
        var shapes = new List<int[]> { graph.InputShape.ToArray() };
        foreach (Leaf leaf in leaves)
        {
            shapes.Add(leaf.Layer.OutputShape(shapes[^1]));
        }
        return shapes;
    }

    private static List<Leaf> FoldBatchNorms(List<Leaf> leaves, List<int[]> shapes)
    {
        var result = new List<Leaf>();
        for (int i = 0; i < leaves.Count; i++)
        {
            Leaf leaf = leaves[i];
            if (i + 1 < leaves.Count && leaves[i + 1].Layer is BatchNormLayer bn)
            {
                OnnxLayer? folded = leaf.Layer switch
                {
                    Conv2dLayer conv when conv.OutChannels == bn.Channels => Fold(conv, bn),
                    // Only on [batch, features]: on longer shapes a batch norm normalises dimension 1, not the features.
                    LinearLayer linear when linear.OutFeatures == bn.Channels && shapes[i].Length == 1 => Fold(linear, bn),
                    _ => null,
                };
                if (folded is not null)
                {
                    var merged = new Leaf(leaf.Name, folded);
                    merged.Ends.AddRange(leaf.Ends);
                    merged.Ends.Add(leaves[i + 1].Name);
                    merged.Ends.AddRange(leaves[i + 1].Ends);
                    result.Add(merged);
                    i++;
                    continue;
                }
            }
            result.Add(leaf);
        }
        return result;
    }

    private static (float[] Weight, float[] Bias) FoldParameters(float[] weight, float[]? bias, int channels, BatchNormLayer bn)
    {
        (double[] m, double[] b) = bn.Affine();
        int perChannel = weight.Length / channels;
        float[] w = new float[weight.Length];
        float[] bias2 = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            for (int k = 0; k < perChannel; k++)
            {
                w[(c * perChannel) + k] = (float)(weight[(c * perChannel) + k] * m[c]);
            }
            bias2[c] = (float)(((bias?[c] ?? 0.0) * m[c]) + b[c]);
        }
        return (w, bias2);
    }

    private static Conv2dLayer Fold(Conv2dLayer conv, BatchNormLayer bn)
    {
        (float[] w, float[] b) = FoldParameters(conv.Weight, conv.Bias, conv.OutChannels, bn);
        return conv.WithParameters(w, b);
    }

    private static LinearLayer Fold(LinearLayer linear, BatchNormLayer bn)
    {
        (float[] w, float[] b) = FoldParameters(linear.Weight, linear.Bias, linear.OutFeatures, bn);
        return new LinearLayer(linear.Name, w, b, linear.InFeatures, linear.OutFeatures);
    }

    private static (float Scale, byte ZeroPoint) Params((float Min, float Max) range)
    {
        double min = Math.Min(range.Min, 0), max = Math.Max(range.Max, 0);
        double scale = (max - min) / 255.0;
        if (scale <= 0 || double.IsNaN(scale))
        {
            return (1f, 0);
        }
        return ((float)scale, (byte)Math.Clamp(Math.Round(-min / scale), 0, 255));
    }

    private static bool KeepsFloat(OnnxLayer layer, Int8QuantizationOptions? quantization)
    {
        if (quantization is null)
        {
            return true;
        }
        if (quantization.FloatLayers.Contains(layer.Name))
        {
            return true;
        }
        long fanIn = layer switch
        {
            Conv2dLayer c => (long)c.InChannels / c.Groups * c.Kernel.H * c.Kernel.W,
            LinearLayer l => l.InFeatures,
            _ => long.MaxValue,
        };
        return fanIn < quantization.MinimumFanIn;
    }

    private static byte[] Build(StudentGraph graph, OnnxExportOptions options, Mode mode, Dictionary<string, (float Min, float Max)>? ranges, string quantizationText, Int8QuantizationOptions? quantization)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(options);
        if (graph.Layers.Count == 0)
        {
            throw new ArgumentException($"Model '{graph.Name}' has no layers to export.", nameof(graph));
        }
        // Shapes first, so a misfit is reported before anything is written.
        List<Leaf> unfolded = Flatten(graph.Layers);
        List<int[]> shapes = Shapes(graph, unfolded);
        List<Leaf> leaves = FoldBatchNorms(unfolded, shapes);
        shapes = Shapes(graph, leaves);
        if (shapes[^1].Length != 1 || shapes[^1][0] != graph.ClassCount)
        {
            throw new ArgumentException(
                $"Model '{graph.Name}' ends with samples of shape [{string.Join(", ", shapes[^1])}], not [{graph.ClassCount}] logits; a classifier's last layer must give one logit per class.",
                nameof(graph));
        }
        var known = leaves.SelectMany(l => l.Ends.Prepend(l.Name)).ToHashSet(StringComparer.Ordinal);
        foreach (string name in options.IntermediateOutputs)
        {
            if (!known.Contains(name))
            {
                throw new ArgumentException($"Model '{graph.Name}' has no layer '{name}' to expose. Layers: {string.Join(", ", known)}.", nameof(options));
            }
        }

        var builder = new OnnxGraphBuilder(quantizeWeights: mode is Mode.Static or Mode.Dynamic);
        builder.UniqueName(options.InputName);
        builder.UniqueName(options.OutputName);
        foreach (string name in options.IntermediateOutputs)
        {
            builder.UniqueName(name);
        }
        var outputsByName = new Dictionary<string, (string Tensor, int[] Shape)>(StringComparer.Ordinal);
        var taps = new List<(string Key, string Tensor, int[] Shape)>();
        string x = options.InputName;
        (float Scale, byte ZeroPoint)? current = null;
        if (mode == Mode.Calibrate)
        {
            taps.Add((InputKey, x, shapes[0]));
        }
        for (int i = 0; i < leaves.Count; i++)
        {
            Leaf leaf = leaves[i];
            OnnxLayer layer = leaf.Layer;
            int[] inShape = shapes[i];
            bool isLast = i == leaves.Count - 1;
            var named = new List<Leaf> { leaf };
            bool quantizable = layer is Conv2dLayer or LinearLayer && !KeepsFloat(layer, quantization);
            builder.QuantizeWeightsNow = mode is Mode.Static or Mode.Dynamic && (quantizable || layer is not (Conv2dLayer or LinearLayer));
            if (mode == Mode.Static && quantizable)
            {
                if (current is null)
                {
                    current = Params(ranges![i == 0 ? InputKey : leaves[i - 1].Name]);
                    x = builder.QuantizeDequantize(x, current.Value.Scale, current.Value.ZeroPoint);
                }
                string output = layer.Emit(builder, x, inShape);
                Leaf rangeLeaf = leaf;
                if (i + 1 < leaves.Count && leaves[i + 1].Layer is ActivationLayer { Activation: ActivationKind.Relu })
                {
                    // Quantizing to [0, max] with zero point 0 clamps negatives: the ReLU is the quantization itself.
                    i++;
                    rangeLeaf = leaves[i];
                    named.Add(rangeLeaf);
                    isLast = i == leaves.Count - 1;
                    if (isLast)
                    {
                        output = builder.AddNode("Relu", [output], rangeLeaf.Name);
                    }
                }
                if (isLast)
                {
                    x = output;
                    current = null;
                }
                else
                {
                    current = Params(ranges![rangeLeaf.Name]);
                    x = builder.QuantizeDequantize(output, current.Value.Scale, current.Value.ZeroPoint);
                }
            }
            else if (mode == Mode.Static && layer is Conv2dLayer or LinearLayer && i + 2 < leaves.Count
                && leaves[i + 1].Layer is ActivationLayer { Activation: ActivationKind.Relu } && leaves[i + 2].Layer is Pool2dLayer { Pool: PoolKind.Max }
                && !options.IntermediateOutputs.Any(n => n == leaves[i + 1].Name || leaves[i + 1].Ends.Contains(n)))
            {
                // A float32 layer, ReLU, max-pool: pool before the ReLU (the same result, as both are monotonic), so that the
                // next layer's QuantizeLinear stops at the ReLU and ONNX Runtime keeps the max-pool on its fast float kernel
                // (it would otherwise move the quantization above the pool and run a slow uint8 NCHW max-pool).
                string output = layer.Emit(builder, x, inShape);
                string pooled = leaves[i + 2].Layer.Emit(builder, output, shapes[i + 2]);
                x = leaves[i + 1].Layer.Emit(builder, pooled, shapes[i + 3]);
                current = null;
                outputsByName[leaf.Name] = (output, shapes[i + 1]);
                foreach (string end in leaf.Ends)
                {
                    outputsByName[end] = (output, shapes[i + 1]);
                }
                named.Clear();
                named.Add(leaves[i + 1]);
                named.Add(leaves[i + 2]);
                i += 2;
            }
            else if (mode == Mode.Static && current is not null && (layer is FlattenLayer or IdentityLayer || layer is Pool2dLayer { Pool: PoolKind.Max }))
            {
                // Range-preserving layers keep their input's quantization, so ONNX Runtime runs them on int8 directly.
                string output = layer.Emit(builder, x, inShape);
                x = output == x ? x : builder.QuantizeDequantize(output, current.Value.Scale, current.Value.ZeroPoint);
            }
            else if (mode == Mode.Static)
            {
                // Other layers run in float32; the next quantized layer quantizes its input (with this layer's calibrated range).
                string output = layer.Emit(builder, x, inShape);
                current = output == x ? current : null;
                x = output;
            }
            else if (mode == Mode.Dynamic && quantizable)
            {
                IReadOnlyList<string> q = builder.AddNode("DynamicQuantizeLinear", [x], [x + "_quantized", x + "_scale", x + "_zero_point"]);
                string dq = builder.AddNode("DequantizeLinear", [q[0], q[1], q[2]], x + "_dequantized");
                x = layer.Emit(builder, dq, inShape);
            }
            else
            {
                x = layer.Emit(builder, x, inShape);
            }
            int[] outShape = shapes[i + 1];
            foreach (Leaf n in named)
            {
                outputsByName[n.Name] = (x, outShape);
                foreach (string end in n.Ends)
                {
                    outputsByName[end] = (x, outShape);
                }
                if (mode == Mode.Calibrate)
                {
                    taps.Add((n.Name, x, outShape));
                }
            }
        }

        var graphOutputs = new List<(string Name, int[] Shape)>();
        builder.AddNodeWithOutputs("Identity", [x], [options.OutputName]);
        graphOutputs.Add((options.OutputName, [graph.ClassCount]));
        foreach (string name in options.IntermediateOutputs.Distinct())
        {
            (string tensor, int[] shape) = outputsByName[name];
            builder.AddNodeWithOutputs("Identity", [tensor], [name]);
            graphOutputs.Add((name, shape));
        }
        foreach ((string key, string tensor, int[] shape) in taps)
        {
            string name = builder.AddNode("Identity", [tensor], TapPrefix + key);
            graphOutputs.Add((name, shape));
        }
        return Serialize(graph, options, builder, graphOutputs, quantizationText);
    }

    private static byte[] Serialize(StudentGraph graph, OnnxExportOptions options, OnnxGraphBuilder builder, List<(string Name, int[] Shape)> outputs, string quantization)
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
        foreach ((string name, int[] shape) in outputs)
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
            .Varint(1, IrVersion)
            .String(2, Producer)
            .String(3, typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0")
            .String(4, "ai.knowledgedistillation")
            .Varint(5, 1)
            .String(6, $"Student '{graph.Name}' exported by KnowledgeDistillation ({quantization}).")
            .Message(7, g)
            .Message(8, new ProtoWriter().String(1, "").Varint(2, Opset));
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

    private static Dictionary<string, (float Min, float Max)> Calibrate(byte[] tapped, string inputName, IEnumerable<Float32Tensor> batches, Int8QuantizationOptions quantization)
    {
        using var sessionOptions = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(tapped, sessionOptions);
        string[] tapNames = session.OutputMetadata.Keys.Where(k => k.StartsWith(TapPrefix, StringComparison.Ordinal)).ToArray();
        long[] sample = session.InputMetadata[inputName].Dimensions.Skip(1).Select(d => (long)d).ToArray();
        bool percentile = quantization.Calibration == ActivationCalibration.Percentile;
        var minMax = tapNames.ToDictionary(n => n, _ => (Min: float.PositiveInfinity, Max: float.NegativeInfinity));
        var samples = tapNames.ToDictionary(n => n, _ => new List<float>());
        int seen = 0;
        long perSample = sample.Aggregate(1L, (a, d) => a * d);
        foreach (Float32Tensor batch in batches)
        {
            if (batch.Data.Length != batch.Rows * perSample)
            {
                throw new ArgumentException(
                    $"A calibration batch of shape {batch.ShapeText} does not hold samples of shape [{string.Join(", ", sample)}].", nameof(batches));
            }
            float[] data = batch.Data.ToArray();
            using OrtValue input = OrtValue.CreateTensorValueFromMemory(data, [batch.Rows, .. sample]);
            using var runOptions = new RunOptions();
            using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, [inputName], [input], tapNames);
            for (int t = 0; t < tapNames.Length; t++)
            {
                ReadOnlySpan<float> values = results[t].GetTensorDataAsSpan<float>();
                (float min, float max) = minMax[tapNames[t]];
                foreach (float v in values)
                {
                    min = Math.Min(min, v);
                    max = Math.Max(max, v);
                }
                minMax[tapNames[t]] = (min, max);
                if (percentile)
                {
                    int stride = Math.Max(1, values.Length / 65536);
                    List<float> kept = samples[tapNames[t]];
                    for (int k = 0; k < values.Length; k += stride)
                    {
                        kept.Add(values[k]);
                    }
                }
            }
            seen += batch.Rows;
        }
        if (seen == 0)
        {
            throw new ArgumentException("Static int8 quantization needs calibration data, but no batches were given.", nameof(batches));
        }
        var ranges = new Dictionary<string, (float Min, float Max)>(StringComparer.Ordinal);
        foreach (string tap in tapNames)
        {
            (float min, float max) = minMax[tap];
            if (percentile)
            {
                float[] sorted = [.. samples[tap]];
                Array.Sort(sorted);
                double p = quantization.Percentile / 100.0;
                min = sorted[(int)Math.Floor((1 - p) * (sorted.Length - 1))];
                max = sorted[(int)Math.Ceiling(p * (sorted.Length - 1))];
            }
            ranges[tap[TapPrefix.Length..]] = (min, max);
        }
        return ranges;
    }
}
