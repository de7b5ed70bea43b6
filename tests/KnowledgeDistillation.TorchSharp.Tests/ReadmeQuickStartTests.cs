using KnowledgeDistillation.Data;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;

namespace KnowledgeDistillation.TorchSharp.Tests;

/// <summary>The README's quick start, on a subset and with fewer epochs, so the snippet cannot rot.</summary>
public sealed class ReadmeQuickStartTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-readme-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task QuickStart_Runs()
    {
        LabeledImageSet train = TestData.TrainSubset(3000), test = TestData.TestSubset(300);
        int[] image = [1, 28, 28];

        using var teacher = TorchModel.FromPreset("cnn:32,64,128:bn", image, classCount: 10, seed: 1);
        await new TorchDistiller(new DistillationOptions { Epochs = 2 }, new HardLabelLoss()).FitAsync(teacher, null, train);

        using var student = TorchModel.FromPreset("cnn:8,16", image, classCount: 10, seed: 2);
        var options = new DistillationOptions { Epochs = 3, Temperature = "4", Alpha = "0.9" };
        DistillationHistory history = await new TorchDistiller(options,
                new HintonDistillationLoss(options.AlphaSchedule(), options.TemperatureSchedule()),
                [new EarlyStoppingCallback("val_accuracy", patience: 2), new CheckpointCallback(Path.Combine(_dir, "checkpoints"))])
            .FitAsync(student, teacher, train, validation: test);

        history.LastMetric("val_accuracy").Should().BeGreaterThan(0.3);
        history.LastMetric("val_agreement").Should().NotBeNull();
        teacher.Metadata.ParameterCount.Should().BeGreaterThan(10 * student.Metadata.ParameterCount!.Value);
        Directory.GetFiles(Path.Combine(_dir, "checkpoints")).Should().NotBeEmpty();
    }
}
