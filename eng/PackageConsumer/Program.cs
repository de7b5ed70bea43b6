// The package consumer: uses KnowledgeDistillation and KnowledgeDistillation.TorchSharp as NuGet packages, the way an
// application does. Registers through dependency injection, resolves the TorchSharp trainer, runs one distillation
// epoch on the CPU over a tiny synthetic data set, and checks that the student's weights changed and the loss is
// finite. Prints "package consumer: OK (...)" and exits 0, or prints what failed and exits 1.
// Built and run by eng/package-check.sh (part of eng/test.sh); keep this the only source file.
using KnowledgeDistillation.Data;
using KnowledgeDistillation.DependencyInjection;
using KnowledgeDistillation.TorchSharp.DependencyInjection;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

try
{
    // 48 one-channel 4×4 "images" in 3 classes; each class brightens its own rows, so there is something to learn.
    const int Samples = 48, Height = 4, Width = 4, Classes = 3;
    var random = new Random(7);
    var pixels = new float[Samples * Height * Width];
    var labels = new int[Samples];
    for (int i = 0; i < Samples; i++)
    {
        labels[i] = i % Classes;
        for (int p = 0; p < Height * Width; p++)
        {
            pixels[(i * Height * Width) + p] = (0.5f * random.NextSingle()) + (p / Width == labels[i] ? 0.5f : 0f);
        }
    }
    var train = new LabeledImageSet(pixels, labels, Height, Width, Classes, "synthetic");

    var services = new ServiceCollection();
    services.AddKnowledgeDistillation(o =>
        {
            o.Epochs = 1;
            o.BatchSize = Samples;   // one step: the whole set is one batch
            o.LearningRate = 1e-2;
            o.Seed = 1;
        })
        .UseHintonDistillation()
        .AddTorchSharpTrainer();
    using ServiceProvider provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    provider.GetRequiredService<IStartupValidator>().Validate();   // what a host does at start (ValidateOnStart)
    TorchDistiller distiller = provider.GetRequiredService<TorchDistiller>();

    int[] shape = [1, Height, Width];
    using TorchModel teacher = TorchModel.FromPreset("mlp:8", shape, Classes, seed: 1);
    using TorchModel student = TorchModel.FromPreset("mlp:8", shape, Classes, seed: 2);
    byte[] before = Weights(student);
    DistillationHistory history = await distiller.FitAsync(student, teacher, train);
    byte[] after = Weights(student);

    var failures = new List<string>();
    if (history.Epochs.Count != 1)
    {
        failures.Add($"expected 1 epoch, got {history.Epochs.Count}");
    }
    double loss = history.Epochs.Count > 0 && history.Epochs[^1].TrainLoss.TryGetValue("total", out double l) ? l : double.NaN;
    if (!double.IsFinite(loss))
    {
        failures.Add($"the training loss is not finite ({loss})");
    }
    if (before.AsSpan().SequenceEqual(after))
    {
        failures.Add("the student's weights did not change");
    }
    if (failures.Count > 0)
    {
        Console.Error.WriteLine($"package consumer: FAILED: {string.Join("; ", failures)}");
        return 1;
    }
    Console.WriteLine($"package consumer: OK (loss {loss:G4}, {history.Epochs[^1].Step} step, {Samples} samples)");
    return 0;
}
catch (Exception ex)
{
    Console.Error.WriteLine($"package consumer: FAILED: {ex}");
    return 1;
}

static byte[] Weights(TorchModel model)
{
    using var stream = new MemoryStream();
    model.SaveWeights(stream);
    return stream.ToArray();
}
