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
    /// this stay float32, together with the layers after them up to the next quantized one; 0 (the default) quantizes all.
    /// Measured with ONNX Runtime 1.31 (docs/onnx.md): keeping a one-channel first convolution in float32 makes ONNX Runtime
    /// move the next QuantizeLinear above the max-pool, whose uint8 NCHW kernel is slow, so this is off by default.
    /// </summary>
    public int MinimumFanIn { get; init; }

    /// <summary>Names of layers to keep in float32 regardless of <see cref="MinimumFanIn"/>.</summary>
    public IReadOnlyCollection<string> FloatLayers { get; init; } = [];
}
