namespace KnowledgeDistillation.Onnx.Quantization;

/// <summary>Settings for an int8 export.</summary>
public sealed class Int8QuantizationOptions
{
    /// <summary>Static (calibrated) or dynamic activations.</summary>
    public ActivationQuantization Activations { get; init; } = ActivationQuantization.Static;

    /// <summary>How static ranges are chosen.</summary>
    public ActivationCalibration Calibration { get; init; } = ActivationCalibration.MinMax;

    /// <summary>The percentile for <see cref="ActivationCalibration.Percentile"/>, in (50, 100].</summary>
    public double Percentile { get; init; } = 99.99;

    /// <summary>
    /// Convolution and linear layers with fewer inputs per output (in-channels / groups × kernel area, or in-features) than
    /// this stay float32 (the next quantized layer quantizes its input); 0 quantizes all. The default, 16, keeps a first 3×3
    /// convolution over one image channel in float32: ONNX Runtime 1.31's QLinearConv is several times slower than its
    /// float kernel on so few input channels (measured, docs/onnx.md), and the layer holds few weights.
    /// </summary>
    public int MinimumFanIn { get; init; } = 16;

    /// <summary>Names of layers to keep in float32 regardless of <see cref="MinimumFanIn"/>.</summary>
    public IReadOnlyCollection<string> FloatLayers { get; init; } = [];
}
