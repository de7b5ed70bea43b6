using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Onnx.Export;
using KnowledgeDistillation.Onnx.Quantization;
using KnowledgeDistillation.TorchSharp.Models;

namespace KnowledgeDistillation.Onnx.TorchSharp;

/// <summary>Exports a TorchSharp student to ONNX (see <see cref="OnnxExporter"/> and <see cref="TorchOnnxConverter"/>).</summary>
public static class TorchOnnxExport
{
    /// <summary>Exports the model in float32 and returns the ONNX bytes.</summary>
    /// <exception cref="NotSupportedException">A layer cannot be exported; the message names it and its type.</exception>
    public static byte[] ExportToOnnx(this TorchModel model, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return OnnxExporter.Export(TorchOnnxConverter.ToStudentGraph(model), options);
    }

    /// <summary>Exports the model in float32 to <paramref name="path"/>.</summary>
    /// <exception cref="NotSupportedException">A layer cannot be exported; the message names it and its type.</exception>
    public static void ExportToOnnx(this TorchModel model, string path, OnnxExportOptions? options = null) =>
        OnnxExporter.Save(model.ExportToOnnx(options), path);

    /// <summary>Exports the model with int8 weights and activations (see <see cref="OnnxExporter.ExportInt8"/>).</summary>
    /// <param name="model">The student.</param>
    /// <param name="calibration">Sample batches for static activation ranges (for example a few hundred training images); ignored for dynamic.</param>
    /// <param name="quantization">Quantization settings; null for static min-max.</param>
    /// <param name="options">Names and metadata.</param>
    /// <exception cref="NotSupportedException">A layer cannot be exported; the message names it and its type.</exception>
    public static byte[] ExportToOnnxInt8(this TorchModel model, IEnumerable<Float32Tensor>? calibration, Int8QuantizationOptions? quantization = null, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return OnnxExporter.ExportInt8(TorchOnnxConverter.ToStudentGraph(model), calibration, quantization, options);
    }
}
