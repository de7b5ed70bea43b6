using System.Globalization;
using KnowledgeDistillation.Onnx.Export.Layers;
using KnowledgeDistillation.Onnx.Export.Lowering;
using KnowledgeDistillation.Onnx.Quantization;

namespace KnowledgeDistillation.Onnx.Export.Emitters;

/// <summary>
/// Emits int8 weights and statically quantized activations in QDQ form: each quantized convolution/linear layer reads a
/// QuantizeLinear/DequantizeLinear pair with its input's calibrated range and quantizes its output with its own (a
/// following ReLU folds into that quantization). Range-preserving layers keep their input's quantization; other layers
/// run in float32.
/// </summary>
/// <param name="ranges">Calibrated ranges by range name (<see cref="CalibrationEmitter.InputRange"/> for the input).</param>
/// <param name="quantization">Which layers are quantized, and the calibration method (for the mode text).</param>
internal sealed class StaticInt8Emitter(IReadOnlyDictionary<string, (float Min, float Max)> ranges, Int8QuantizationOptions quantization) : ILayerEmitter
{
    public bool QuantizesWeights => true;

    public string QuantizationText => quantization.Calibration == ActivationCalibration.MinMax
        ? "int8-static-minmax"
        : string.Create(CultureInfo.InvariantCulture, $"int8-static-percentile-{quantization.Percentile}");

    public EmittedLayers Emit(OnnxGraphBuilder builder, LoweredGraph graph, string input)
    {
        var emitted = new EmittedLayers();
        IReadOnlyList<LoweredLayer> layers = graph.Layers;
        string x = input;
        // The quantization x went through, while x is the output of a QuantizeLinear/DequantizeLinear pair; null while float32.
        (float Scale, byte ZeroPoint)? current = null;
        for (int i = 0; i < layers.Count; i++)
        {
            LoweredLayer layer = layers[i];
            builder.QuantizeWeightsNow = Int8Layers.QuantizesWeights(layer.Layer, quantization);
            if (Int8Layers.IsQuantized(layer.Layer, quantization))
            {
                if (current is null)
                {
                    current = Params(i == 0 ? CalibrationEmitter.InputRange : layers[i - 1].RangeName);
                    x = builder.QuantizeDequantize(x, current.Value.Scale, current.Value.ZeroPoint);
                }
                string output = layer.Layer.Emit(builder, x, layer.InputShape);
                LoweredLayer last = layer;
                if (i + 1 < layers.Count && layers[i + 1].Layer is ActivationLayer { Activation: ActivationKind.Relu })
                {
                    // Quantizing to [0, max] with zero point 0 clamps negatives: the ReLU is the quantization itself.
                    last = layers[++i];
                    if (i == layers.Count - 1)
                    {
                        output = builder.AddNode("Relu", [output], last.Layer.Name);
                    }
                }
                if (i == layers.Count - 1)
                {
                    x = output;
                    current = null;
                }
                else
                {
                    current = Params(last.RangeName);
                    x = builder.QuantizeDequantize(output, current.Value.Scale, current.Value.ZeroPoint);
                }
                emitted.Record(layer, x);
                if (!ReferenceEquals(last, layer))
                {
                    emitted.Record(last, x);
                }
            }
            else if (current is not null && layer.Layer is FlattenLayer or IdentityLayer or Pool2dLayer { Pool: PoolKind.Max })
            {
                // Range-preserving layers keep their input's quantization, so ONNX Runtime runs them on int8 directly.
                string output = layer.Layer.Emit(builder, x, layer.InputShape);
                x = output == x ? x : builder.QuantizeDequantize(output, current.Value.Scale, current.Value.ZeroPoint);
                emitted.Record(layer, x);
            }
            else
            {
                // Other layers run in float32; the next quantized layer quantizes its input (with this layer's calibrated range).
                string output = layer.Layer.Emit(builder, x, layer.InputShape);
                current = output == x ? current : null;
                x = output;
                emitted.Record(layer, x);
            }
        }
        emitted.Logits = x;
        return emitted;
    }

    private (float Scale, byte ZeroPoint) Params(string? rangeName)
    {
        (float Min, float Max) range = ranges[rangeName ?? throw new InvalidOperationException("A quantized layer reads a tensor that has no calibrated range.")];
        double min = Math.Min(range.Min, 0), max = Math.Max(range.Max, 0);
        double scale = (max - min) / 255.0;
        if (scale <= 0 || double.IsNaN(scale))
        {
            return (1f, 0);
        }
        return ((float)scale, (byte)Math.Clamp(Math.Round(-min / scale), 0, 255));
    }
}
