using KnowledgeDistillation.Onnx.Export.Layers;

namespace KnowledgeDistillation.Onnx.Export.Lowering;

/// <summary>
/// Rewrites float32 Conv/Linear → ReLU → max-pool into Conv/Linear → max-pool → ReLU, for static int8 exports.
/// </summary>
/// <remarks>
/// ReLU and max-pooling commute (both are monotonic), so the outputs are the same. Pooling first lets the next layer's
/// QuantizeLinear stop at the ReLU, so ONNX Runtime keeps the max-pool on its fast float kernel; otherwise it moves the
/// quantization above the pool and runs a slow uint8 NCHW max-pool. After the rewrite the pool's output is no model
/// layer's, and the ReLU's output answers for both the ReLU and the pool (including the pool's calibrated range).
/// A ReLU requested as an intermediate output is left where it is, as its output would change.
/// </remarks>
internal static class PoolBeforeReluPass
{
    /// <summary>Applies the rewrite wherever a layer that <paramref name="staysFloat"/> is followed by ReLU and max-pool.</summary>
    /// <param name="graph">The lowered graph.</param>
    /// <param name="staysFloat">Whether a convolution or linear layer is kept in float32 (the rewrite only helps there).</param>
    /// <param name="exposed">The names requested as intermediate outputs.</param>
    public static LoweredGraph Apply(LoweredGraph graph, Func<OnnxLayer, bool> staysFloat, IReadOnlyCollection<string> exposed)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(staysFloat);
        ArgumentNullException.ThrowIfNull(exposed);
        IReadOnlyList<LoweredLayer> layers = graph.Layers;
        var result = new List<LoweredLayer>(layers.Count);
        for (int i = 0; i < layers.Count; i++)
        {
            LoweredLayer layer = layers[i];
            result.Add(layer);
            if (layer.Layer is Conv2dLayer or LinearLayer && staysFloat(layer.Layer) && i + 2 < layers.Count
                && layers[i + 1] is { Layer: ActivationLayer { Activation: ActivationKind.Relu } } relu
                && layers[i + 2] is { Layer: Pool2dLayer { Pool: PoolKind.Max } } pool
                && !exposed.Any(n => relu.Names.Contains(n, StringComparer.Ordinal)))
            {
                result.Add(pool with { InputShape = relu.InputShape, RangeName = null, Names = [] });
                result.Add(relu with { InputShape = pool.OutputShape, OutputShape = pool.OutputShape, RangeName = pool.RangeName, Names = [.. relu.Names, .. pool.Names] });
                i += 2;
            }
        }
        return graph with { Layers = result };
    }
}
