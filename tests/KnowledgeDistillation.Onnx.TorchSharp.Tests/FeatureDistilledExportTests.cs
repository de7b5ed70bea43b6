using KnowledgeDistillation.Data;
using KnowledgeDistillation.Onnx.Teachers;
using KnowledgeDistillation.TorchSharp.Features;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;

namespace KnowledgeDistillation.Onnx.TorchSharp.Tests;

public sealed class FeatureDistilledExportTests
{
    [Fact]
    public async Task FitNetsStudent_ExportsWithoutItsRegressor_AndMatchesTorch()
    {
        TorchModel teacher = TestModels.Trained("cnn:8,16:bn,hidden=32,dropout=0.25", images: 1000, epochs: 1);
        LabeledImageSet train = TestModels.Train(256);
        using TorchModel student = TorchModel.FromPreset("cnn:4,8", [1, 28, 28], 10, seed: 2);
        using TorchModel untrained = TorchModel.FromPreset("cnn:4,8", [1, 28, 28], 10, seed: 3);
        using var hint = new FitNetHintLoss([new LayerPair("block2", "block2")], kernelSize: 3);

        await new TorchDistiller(new DistillationOptions { Epochs = 1, BatchSize = 64, Seed = 3, Threads = 1 }) { FeatureLosses = [hint] }
            .FitAsync(student, teacher, train);

        hint.Parameters.Should().NotBeEmpty();
        byte[] onnx = student.ExportToOnnx();
        onnx.Length.Should().Be(untrained.ExportToOnnx().Length, "the exported graph holds the student's layers only, not the 8→16 regressor");
        using OnnxTeacher exported = OnnxTeacher.FromBytes(onnx, "student.onnx", new OnnxTeacherOptions { ExpectedInputShape = [1, 28, 28], ExpectedClassCount = 10, IntraOpThreads = 1 });
        var inputs = TestModels.AsBatch(TestModels.Test(32));
        float[] fromOnnx = (await exported.InferAsync(inputs)).Logits.Data.ToArray();
        float[] fromTorch = student.Predict(inputs).Logits.Data.ToArray();
        fromOnnx.Should().Equal(fromTorch, (a, b) => Math.Abs(a - b) < 1e-3f);
    }
}
