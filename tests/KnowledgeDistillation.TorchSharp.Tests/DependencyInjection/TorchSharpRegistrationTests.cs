using KnowledgeDistillation.DependencyInjection;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.TorchSharp.DependencyInjection;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;
using Microsoft.Extensions.DependencyInjection;

namespace KnowledgeDistillation.TorchSharp.Tests.DependencyInjection;

public sealed class TorchSharpRegistrationTests
{
    [Fact]
    public async Task AddTorchSharpTrainer_ResolvesATrainerWithTheRegisteredLossOptionsAndCallbacks()
    {
        var budget = new TrainingBudgetCallback(maxSteps: 1);
        var services = new ServiceCollection();
        services.AddKnowledgeDistillation(o => { o.Epochs = 3; o.BatchSize = 64; o.Threads = 1; })
            .UseHardLabelLoss()
            .AddCallback(budget)
            .AddTorchSharpTrainer(s => s.LossPath = LogitLossPath.FusedCpuKernels);
        using ServiceProvider provider = services.BuildServiceProvider();

        TorchDistiller trainer = provider.GetRequiredService<TorchDistiller>();
        trainer.Loss.Should().BeOfType<HardLabelLoss>();
        trainer.LossPath.Should().Be(LogitLossPath.FusedCpuKernels);
        provider.GetRequiredService<TorchDistiller>().Should().NotBeSameAs(trainer, "one trainer per run");

        using TorchModel student = TorchModel.FromPreset("mlp:8", [1, 28, 28], 10, seed: 1);
        DistillationHistory history = await trainer.FitAsync(student, null, TestData.TrainSubset(64));
        history.Epochs.Should().HaveCount(1, "the registered budget callback stops after the first epoch");
        history.StopReason.Should().Contain("step budget");
    }
}
