using KnowledgeDistillation.Onnx.Export.Lowering;
using KnowledgeDistillation.Onnx.Quantization;

namespace KnowledgeDistillation.Onnx.Export.Emitters;

/// <summary>
/// Emits int8 weights and dynamically quantized activations: a DynamicQuantizeLinear/DequantizeLinear pair (range
/// computed per batch at run time) before each quantized convolution/linear layer.
/// </summary>
internal sealed class DynamicInt8Emitter(Int8QuantizationOptions quantization) : ILayerEmitter
{
    public bool QuantizesWeights => true;

    public string QuantizationText => "int8-dynamic";

    public EmittedLayers Emit(OnnxGraphBuilder builder, LoweredGraph graph, string input)
    {
        var emitted = new EmittedLayers();
        string x = input;
        foreach (LoweredLayer layer in graph.Layers)
        {
            builder.QuantizeWeightsNow = Int8Layers.QuantizesWeights(layer.Layer, quantization);
            if (Int8Layers.IsQuantized(layer.Layer, quantization))
            {
                IReadOnlyList<string> q = builder.AddNode("DynamicQuantizeLinear", [x], [x + "_quantized", x + "_scale", x + "_zero_point"]);
                x = builder.AddNode("DequantizeLinear", [q[0], q[1], q[2]], x + "_dequantized");
            }
            x = layer.Layer.Emit(builder, x, layer.InputShape);
            emitted.Record(layer, x);
        }
        emitted.Logits = x;
        return emitted;
    }
}
