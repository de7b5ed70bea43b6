using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Onnx.Quantization;
using KnowledgeDistillation.Onnx.Teachers;
using KnowledgeDistillation.TorchSharp.Models;
using Xunit.Abstractions;

namespace KnowledgeDistillation.Onnx.TorchSharp.Tests;

public sealed class Int8ExportTests(ITestOutputHelper output)
{
    public static TheoryData<ActivationQuantization, ActivationCalibration> Modes => new()
    {
        { ActivationQuantization.Static, ActivationCalibration.MinMax },
        { ActivationQuantization.Static, ActivationCalibration.Percentile },
        { ActivationQuantization.Dynamic, ActivationCalibration.MinMax },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void Int8Export_IsUnder30PercentOfFloat32_AndLosesAtMostOnePointOfAccuracy(ActivationQuantization activations, ActivationCalibration calibration)
    {
        TorchModel student = TestModels.Trained("cnn:8,16:bn,hidden=64", images: 1500, epochs: 2);
        LabeledImageSet test = TestModels.Test(1000);
        Float32Tensor inputs = TestModels.AsBatch(test);
        IEnumerable<Float32Tensor> calibrationBatches = TestModels.Train(256).GetBatches(64, shuffle: false, seed: 0, epoch: 0).Select(b => b.Inputs);

        byte[] fp32 = student.ExportToOnnx();
        byte[] int8 = student.ExportToOnnxInt8(calibrationBatches, new Int8QuantizationOptions { Activations = activations, Calibration = calibration });
        using OnnxTeacher a = OnnxTeacher.FromBytes(fp32, "fp32");
        using OnnxTeacher b = OnnxTeacher.FromBytes(int8, "int8");
        double fp32Accuracy = TestModels.Accuracy(a.Infer(inputs).Logits, test);
        double int8Accuracy = TestModels.Accuracy(b.Infer(inputs).Logits, test);
        double ratio = (double)int8.Length / fp32.Length;
        output.WriteLine($"{activations}/{calibration}: size {fp32.Length:N0} → {int8.Length:N0} bytes ({ratio:P1}); accuracy on 1000 test images {fp32Accuracy:P1} → {int8Accuracy:P1} (drop {(fp32Accuracy - int8Accuracy) * 100:F2} points)");

        ratio.Should().BeLessThanOrEqualTo(0.30);
        (fp32Accuracy - int8Accuracy).Should().BeLessThanOrEqualTo(0.01);
        fp32Accuracy.Should().BeGreaterThan(0.7, "the student must have learnt something for the comparison to mean anything");
    }
}
