using KnowledgeDistillation.Onnx.Export.Lowering;

namespace KnowledgeDistillation.Onnx.Export.Emitters;

/// <summary>
/// Emits the float32 graph with a tap output on the input and on every layer's output, named <see cref="TapPrefix"/> +
/// the range name, for <see cref="Quantization.ActivationCalibrator"/> to measure activation ranges.
/// </summary>
internal sealed class CalibrationEmitter : ILayerEmitter
{
    /// <summary>The prefix of tap output names.</summary>
    public const string TapPrefix = "kd.tap.";

    /// <summary>The range name of the graph input (not a possible layer name).</summary>
    public const string InputRange = "\u0001input";

    public bool QuantizesWeights => false;

    public string QuantizationText => "calibration";

    public EmittedLayers Emit(OnnxGraphBuilder builder, LoweredGraph graph, string input)
    {
        var emitted = new EmittedLayers();
        emitted.AddExtraOutput(TapPrefix + InputRange, input, graph.Source.InputShape);
        string x = input;
        foreach (LoweredLayer layer in graph.Layers)
        {
            x = layer.Layer.Emit(builder, x, layer.InputShape);
            emitted.Record(layer, x);
            if (layer.RangeName is not null)
            {
                emitted.AddExtraOutput(TapPrefix + layer.RangeName, x, layer.OutputShape);
            }
        }
        emitted.Logits = x;
        return emitted;
    }
}
