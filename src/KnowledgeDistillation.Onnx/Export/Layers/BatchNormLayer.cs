namespace KnowledgeDistillation.Onnx.Export.Layers;

/// <summary>
/// Batch normalisation in inference form (running statistics). Folded into a directly preceding <see cref="Conv2dLayer"/>
/// or <see cref="LinearLayer"/> at export; emitted as BatchNormalization otherwise.
/// </summary>
public sealed class BatchNormLayer : OnnxLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">The layer's name.</param>
    /// <param name="mean">Running mean per channel.</param>
    /// <param name="variance">Running variance per channel.</param>
    /// <param name="scale">γ per channel, or null for 1.</param>
    /// <param name="shift">β per channel, or null for 0.</param>
    /// <param name="epsilon">The ε added to the variance.</param>
    public BatchNormLayer(string name, float[] mean, float[] variance, float[]? scale, float[]? shift, double epsilon)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(variance);
        int c = mean.Length;
        if (variance.Length != c || (scale is not null && scale.Length != c) || (shift is not null && shift.Length != c))
        {
            throw new ArgumentException($"Batch norm '{name}': mean, variance, scale and shift must have the same length.", nameof(variance));
        }
        Mean = mean;
        Variance = variance;
        Scale = scale ?? Enumerable.Repeat(1f, c).ToArray();
        Shift = shift ?? new float[c];
        Epsilon = epsilon;
    }

    /// <summary>Running mean.</summary>
    public float[] Mean { get; }

    /// <summary>Running variance.</summary>
    public float[] Variance { get; }

    /// <summary>γ.</summary>
    public float[] Scale { get; }

    /// <summary>β.</summary>
    public float[] Shift { get; }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>The number of channels.</summary>
    public int Channels => Mean.Length;

    /// <inheritdoc />
    public override string Kind => "BatchNorm";

    /// <inheritdoc />
    public override long ParameterCount => 2L * Channels;

    /// <summary>The per-channel multiplier <c>γ / sqrt(var + ε)</c> and offset <c>β − mean · multiplier</c>, computed in double precision.</summary>
    public (double[] Multiplier, double[] Offset) Affine()
    {
        double[] m = new double[Channels];
        double[] b = new double[Channels];
        for (int c = 0; c < Channels; c++)
        {
            m[c] = Scale[c] / Math.Sqrt(Variance[c] + Epsilon);
            b[c] = Shift[c] - (Mean[c] * m[c]);
        }
        return (m, b);
    }

    /// <inheritdoc />
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Count < 1 || inputShape[0] != Channels)
        {
            throw new ArgumentException($"Batch norm '{Name}' has {Channels} channels but receives samples of shape {ShapeText(inputShape)}.", nameof(inputShape));
        }
        return [.. inputShape];
    }

    /// <inheritdoc />
    public override string Emit(OnnxGraphBuilder graph, string input, IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.AddNode("BatchNormalization",
            [input, graph.AddConstant(Name + ".weight", Scale, Channels), graph.AddConstant(Name + ".bias", Shift, Channels),
             graph.AddConstant(Name + ".running_mean", Mean, Channels), graph.AddConstant(Name + ".running_var", Variance, Channels)],
            Name, OnnxAttribute.Float("epsilon", (float)Epsilon));
    }
}
