using KnowledgeDistillation.Onnx.Export.Layers;
using KnowledgeDistillation.Onnx.Quantization;

namespace KnowledgeDistillation.Onnx.Export.Emitters;

/// <summary>Which layers an int8 export quantizes.</summary>
internal static class Int8Layers
{
    /// <summary>Whether <paramref name="layer"/> is a convolution or linear layer run in int8 (not kept in float32 by name or fan-in).</summary>
    public static bool IsQuantized(OnnxLayer layer, Int8QuantizationOptions quantization) =>
        layer is Conv2dLayer or LinearLayer && !KeepsFloat(layer, quantization);

    /// <summary>
    /// Whether weights <paramref name="layer"/> adds through <see cref="OnnxGraphBuilder.AddWeight"/> are stored as int8:
    /// those of quantized convolution/linear layers and of any other (custom) layer.
    /// </summary>
    public static bool QuantizesWeights(OnnxLayer layer, Int8QuantizationOptions quantization) =>
        IsQuantized(layer, quantization) || layer is not (Conv2dLayer or LinearLayer);

    private static bool KeepsFloat(OnnxLayer layer, Int8QuantizationOptions quantization)
    {
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
}
