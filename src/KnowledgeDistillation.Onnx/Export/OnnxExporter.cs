using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.IO;
using KnowledgeDistillation.Onnx.Export.Emitters;
using KnowledgeDistillation.Onnx.Export.Lowering;
using KnowledgeDistillation.Onnx.Quantization;

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

    /// <summary>Exports the model in float32.</summary>
    /// <exception cref="ArgumentException">The layers do not fit the input shape or the class count, or an intermediate name is unknown.</exception>
    public static byte[] Export(StudentGraph graph, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        options ??= new OnnxExportOptions();
        return Write(OnnxLowering.Lower(graph, options), options, new Float32Emitter());
    }

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
            return Write(OnnxLowering.Lower(graph, options), options, new DynamicInt8Emitter(quantization));
        }
        if (quantization.Calibration == ActivationCalibration.Percentile && quantization.Percentile is <= 50 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(quantization), quantization.Percentile, "The calibration percentile must be in (50, 100].");
        }
        ArgumentNullException.ThrowIfNull(calibration, nameof(calibration));
        LoweredGraph lowered = OnnxLowering.Lower(graph, options);
        byte[] tapped = Write(lowered, options, new CalibrationEmitter());
        Dictionary<string, (float Min, float Max)> ranges = ActivationCalibrator.Calibrate(tapped, options.InputName, calibration, quantization);
        // Calibrated on the graph as lowered: the rewrite keeps every range name's values.
        LoweredGraph rewritten = PoolBeforeReluPass.Apply(lowered, layer => !Int8Layers.IsQuantized(layer, quantization), options.IntermediateOutputs);
        return Write(rewritten, options, new StaticInt8Emitter(ranges, quantization));
    }

    /// <summary>
    /// Writes an exported model to <paramref name="path"/> (creating the folder). The file is replaced all at once: if
    /// writing fails, a previous file at <paramref name="path"/> is left as it was.
    /// </summary>
    public static void Save(byte[] model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        AtomicFile.Write(path, stream => stream.Write(model));
    }

    /// <summary>Emits <paramref name="graph"/> with <paramref name="emitter"/>, adds the graph outputs and serializes the model.</summary>
    internal static byte[] Write(LoweredGraph graph, OnnxExportOptions options, ILayerEmitter emitter)
    {
        var builder = new OnnxGraphBuilder(emitter.QuantizesWeights);
        // Graph input and output names are exact: reserve them before any layer picks a tensor name.
        builder.UniqueName(options.InputName);
        builder.UniqueName(options.OutputName);
        foreach (string name in options.IntermediateOutputs)
        {
            builder.UniqueName(name);
        }
        EmittedLayers emitted = emitter.Emit(builder, graph, options.InputName);

        var outputs = new List<(string Name, IReadOnlyList<int> Shape)>();
        builder.AddNodeWithOutputs("Identity", [emitted.Logits], [options.OutputName]);
        outputs.Add((options.OutputName, [graph.Source.ClassCount]));
        foreach (string name in options.IntermediateOutputs.Distinct())
        {
            (string tensor, IReadOnlyList<int> shape) = emitted.OutputOf(name);
            builder.AddNodeWithOutputs("Identity", [tensor], [name]);
            outputs.Add((name, shape));
        }
        foreach ((string hint, string tensor, IReadOnlyList<int> shape) in emitted.ExtraOutputs)
        {
            outputs.Add((builder.AddNode("Identity", [tensor], hint), shape));
        }
        return OnnxModelSerializer.Serialize(graph.Source, options, builder, outputs, emitter.QuantizationText);
    }
}
