namespace KnowledgeDistillation.Onnx.Quantization;

/// <summary>How activations are quantized in an int8 export (weights are always per-channel int8).</summary>
public enum ActivationQuantization
{
    /// <summary>
    /// Static: uint8 QuantizeLinear/DequantizeLinear pairs with ranges calibrated on sample data (QDQ format; ONNX Runtime
    /// fuses them into integer kernels such as QLinearConv).
    /// </summary>
    Static,

    /// <summary>Dynamic: DynamicQuantizeLinear computes each batch's range at run time; no calibration data needed.</summary>
    Dynamic,
}
