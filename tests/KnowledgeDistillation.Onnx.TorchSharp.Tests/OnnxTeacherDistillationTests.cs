using KnowledgeDistillation.Data;
using KnowledgeDistillation.Onnx.Teachers;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;
using Xunit.Abstractions;

namespace KnowledgeDistillation.Onnx.TorchSharp.Tests;

public sealed class OnnxTeacherDistillationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ExportedStudent_TeachesASmallerStudent_ThroughTorchDistiller()
    {
        // Round trip in practice: a trained model exported to ONNX is the teacher of a smaller TorchSharp student.
        TorchModel trained = TestModels.Trained("cnn:8,16:bn,hidden=32,dropout=0.25", images: 1000, epochs: 1);
        using OnnxTeacher teacher = OnnxTeacher.FromBytes(trained.ExportToOnnx(), "teacher.onnx",
            new OnnxTeacherOptions { ExpectedInputShape = [1, 28, 28], ExpectedClassCount = 10, IntraOpThreads = 1 });
        LabeledImageSet train = TestModels.Train(512);
        using TorchModel student = TorchModel.FromPreset("mlp:32", [1, 28, 28], 10, seed: 2);

        DistillationHistory history = await new TorchDistiller(new DistillationOptions { Epochs = 1, BatchSize = 64, Seed = 3, Temperature = "4", Alpha = "0.9" })
            .FitAsync(student, teacher, train);

        history.Epochs.Should().HaveCount(1);
        double accuracy = TestModels.Accuracy(student.Predict(TestModels.AsBatch(TestModels.Test(300))).Logits, TestModels.Test(300));
        output.WriteLine($"mlp:32 distilled for 1 epoch on 512 images from the ONNX teacher: {accuracy:P1}");
        accuracy.Should().BeGreaterThan(0.3);
    }
}
