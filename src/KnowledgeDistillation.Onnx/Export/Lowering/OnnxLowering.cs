using KnowledgeDistillation.Onnx.Export.Layers;

namespace KnowledgeDistillation.Onnx.Export.Lowering;

/// <summary>
/// Lowers a <see cref="StudentGraph"/> to the flat layer list every export mode emits: nested sequences flattened (their
/// names kept as aliases of their last layer), batch norms folded into the convolution or linear layer before them,
/// sample shapes computed and checked.
/// </summary>
internal static class OnnxLowering
{
    /// <summary>Lowers <paramref name="graph"/>.</summary>
    /// <exception cref="ArgumentException">The graph has no layers, the layers do not fit the input shape or the class count, or an intermediate name in <paramref name="options"/> is unknown.</exception>
    public static LoweredGraph Lower(StudentGraph graph, OnnxExportOptions options)
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
        var layers = new List<LoweredLayer>(leaves.Count);
        for (int i = 0; i < leaves.Count; i++)
        {
            layers.Add(new LoweredLayer(leaves[i].Layer, shapes[i], shapes[i + 1], leaves[i].Name, [leaves[i].Name, .. leaves[i].Ends]));
        }
        var known = layers.SelectMany(l => l.Names).ToHashSet(StringComparer.Ordinal);
        foreach (string name in options.IntermediateOutputs)
        {
            if (!known.Contains(name))
            {
                throw new ArgumentException($"Model '{graph.Name}' has no layer '{name}' to expose. Layers: {string.Join(", ", known)}.", nameof(options));
            }
        }
        return new LoweredGraph(graph, layers);
    }

    /// <summary>A layer of the flattened model and the names (sequences, folded batch norms) that end with it.</summary>
    private sealed class Leaf(string name, OnnxLayer layer)
    {
        public string Name { get; } = name;

        public OnnxLayer Layer { get; } = layer;

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
                    // An empty sequence still has an output to expose: its input.
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
}
