namespace KnowledgeDistillation.Onnx.Quantization;

/// <summary>How activation ranges are chosen for static int8 quantization.</summary>
public enum ActivationCalibration
{
    /// <summary>The observed minimum and maximum.</summary>
    MinMax,

    /// <summary>The <see cref="Int8QuantizationOptions.Percentile"/>-th percentile of each tail, ignoring outliers.</summary>
    Percentile,
}
