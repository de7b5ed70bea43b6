using KnowledgeDistillation.Onnx.Export.Lowering;

namespace KnowledgeDistillation.Onnx.Export.Emitters;

/// <summary>Writes the nodes of a lowered graph in one export mode (float32, calibration, static or dynamic int8).</summary>
internal interface ILayerEmitter
{
    /// <summary>Whether the graph builder starts out storing weights as int8.</summary>
    bool QuantizesWeights { get; }

    /// <summary>The mode as written into the model (metadata <c>kd.quantization</c> and the doc string).</summary>
    string QuantizationText { get; }

    /// <summary>Adds the layers' nodes to <paramref name="builder"/>, reading the graph input <paramref name="input"/>.</summary>
    EmittedLayers Emit(OnnxGraphBuilder builder, LoweredGraph graph, string input);
}
