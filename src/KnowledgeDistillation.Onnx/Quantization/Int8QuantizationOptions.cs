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
}
