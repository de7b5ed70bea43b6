using KnowledgeDistillation.Onnx.Export.Lowering;

namespace KnowledgeDistillation.Onnx.Export.Emitters;

/// <summary>Emits every layer in float32 as it is.</summary>
internal sealed class Float32Emitter : ILayerEmitter
{
    public bool QuantizesWeights => false;

    public string QuantizationText => "none";

    public EmittedLayers Emit(OnnxGraphBuilder builder, LoweredGraph graph, string input)
    {
        var emitted = new EmittedLayers();
        string x = input;
        foreach (LoweredLayer layer in graph.Layers)
        {
            x = layer.Layer.Emit(builder, x, layer.InputShape);
            emitted.Record(layer, x);
        }
        emitted.Logits = x;
        return emitted;
    }
}
