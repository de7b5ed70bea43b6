using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Cli.Onnx;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Datasets;
using KnowledgeDistillation.IO;
using KnowledgeDistillation.Metrics;
using KnowledgeDistillation.Onnx.Teachers;
using KnowledgeDistillation.TorchSharp.Models;
using TorchSharp;

namespace KnowledgeDistillation.Cli.Commands;

/// <summary><c>kd eval</c>: accuracy, size and latency of ONNX models (and the TorchSharp student, eager) side by side.</summary>
internal static class EvalCommand
{
    internal sealed record Settings
    {
        public required IReadOnlyList<string> OnnxFiles { get; init; }
        public string? Checkpoint { get; init; }
        public string? Architecture { get; init; }
        public int? TestLimit { get; init; }
        public int Iterations { get; init; } = 200;
        public int Threads { get; init; }
        public string? DataDirectory { get; init; }
        public string? JsonPath { get; init; }
    }

    public static Command Create()
    {
        var onnx = new Option<string[]>("--onnx") { Description = "ONNX model(s) to evaluate (repeat the option to compare several).", Required = true, AllowMultipleArgumentsPerToken = true };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Also time this TorchSharp student (weights file with --arch, or .kdckpt) in eager mode." };
        var arch = new Option<string?>("--arch") { Description = "The student's architecture for a weights file." };
        var testLimit = new Option<int?>("--test-limit") { Description = "Use only the first N test images for accuracy." };
        var iterations = new Option<int>("--iterations") { Description = "Timed batch-1 inferences per model (batch 64 uses a quarter).", DefaultValueFactory = _ => 200 };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads for ONNX Runtime and libtorch (0 = their defaults).", DefaultValueFactory = _ => 0 };
        var data = new Option<string?>("--data") { Description = "Folder with the Fashion-MNIST IDX files." };
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file." };
        var command = new Command("eval", "Evaluate ONNX models on the Fashion-MNIST test set: accuracy, file size and latency p50/p99 at batch 1 and 64, next to the TorchSharp student in eager mode.")
        {
            onnx, checkpoint, arch, testLimit, iterations, threads, data, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new Settings
            {
                OnnxFiles = parse.GetValue(onnx)!,
                Checkpoint = parse.GetValue(checkpoint),
                Architecture = parse.GetValue(arch),
                TestLimit = parse.GetValue(testLimit),
                Iterations = parse.GetValue(iterations),
                Threads = parse.GetValue(threads),
                DataDirectory = parse.GetValue(data),
                JsonPath = parse.GetValue(json),
            };
            return await RunAsync(settings, Console.Out, Console.Error).ConfigureAwait(false);
        });
        return command;
    }

    internal static async Task<int> RunAsync(Settings settings, TextWriter output, TextWriter error)
    {
        try
        {
            EvalReport report = Run(settings);
            await output.WriteAsync(FormatTable(report)).ConfigureAwait(false);
            if (settings.JsonPath is { } path)
            {
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(report, CliJsonContext.Default.EvalReport));
                await output.WriteLineAsync($"results written to {path}").ConfigureAwait(false);
            }
            return 0;
        }
        catch (Exception ex) when (CliFailure.Describe(ex) is { } message)
        {
            await error.WriteLineAsync($"kd eval: {message}").ConfigureAwait(false);
            return CliFailure.ExitCode;
        }
    }

    /// <summary>Checks every option before any work (ranges, and that paths are files or folders as expected).</summary>
    internal static void Validate(Settings settings)
    {
        if (settings.OnnxFiles.Count == 0)
        {
            throw new ArgumentException("--onnx is missing: give at least one ONNX model to evaluate.");
        }
        foreach (string file in settings.OnnxFiles)
        {
            OptionRules.InputFile("--onnx", file, "an ONNX model (kd export --out)");
        }
        OptionRules.InputFile("--checkpoint", settings.Checkpoint, "a student weights file (kd distill --out) or a .kdckpt checkpoint");
        OptionRules.Range("--test-limit", settings.TestLimit, 1, int.MaxValue, "test images used for accuracy");
        OptionRules.Range("--iterations", settings.Iterations, 1, 1_000_000, "timed batch-1 inferences per model");
        OptionRules.Threads("--threads", settings.Threads, zeroIsDefault: true);
        OptionRules.InputFolder("--data", settings.DataDirectory, "the Fashion-MNIST IDX files");
        OptionRules.OutputFile("--json", settings.JsonPath, "the results");
    }

    internal static EvalReport Run(Settings settings)
    {
        Validate(settings);
        LabeledImageSet test = FashionMnist.Load(DataSplit.Test, settings.DataDirectory);
        if (settings.TestLimit is { } limit)
        {
            test = test.Take(Math.Min(limit, test.Count));
        }
        Float32Tensor one = test.GetBatches(1, shuffle: false, seed: 0, epoch: 0).First().Inputs;
        Float32Tensor sixtyFour = test.GetBatches(64, shuffle: false, seed: 0, epoch: 0).First().Inputs;
        int iterations = settings.Iterations;
        var models = new List<EvalModelReport>();
        foreach (string file in settings.OnnxFiles)
        {
            using OnnxTeacher model = OnnxTeacher.Load(file, new OnnxTeacherOptions { IntraOpThreads = settings.Threads, ExpectedClassCount = 10, ExpectedInputShape = [1, 28, 28] });
            double accuracy = ClassificationMetrics.Accuracy(ExportCommand.PredictAll(b => model.Infer(b).Logits, test), test.Labels, 10);
            models.Add(new EvalModelReport(Path.GetFileName(file), "onnxruntime", model.CustomMetadata.GetValueOrDefault("kd.quantization", "unknown"), model.ModelBytes, accuracy,
                InferenceTimer.Measure(b => model.Infer(b), one, iterations), InferenceTimer.Measure(b => model.Infer(b), sixtyFour, Math.Max(1, iterations / 4))));
        }
        if (settings.Checkpoint is { } checkpoint)
        {
            if (settings.Threads > 0)
            {
                torch.set_num_threads(settings.Threads);
            }
            using TorchModel student = StudentLoader.Load(checkpoint, settings.Architecture);
            double accuracy = ClassificationMetrics.Accuracy(ExportCommand.PredictAll(b => student.Predict(b).Logits, test), test.Labels, 10);
            models.Add(new EvalModelReport($"{Path.GetFileName(checkpoint)} ({student.Metadata.Name})", "torchsharp-eager", "none", student.WeightsSizeInBytes(), accuracy,
                InferenceTimer.Measure(b => student.Predict(b), one, iterations), InferenceTimer.Measure(b => student.Predict(b), sixtyFour, Math.Max(1, iterations / 4))));
        }
        return new EvalReport(test.Count, iterations, settings.Threads, models);
    }

    internal static string FormatTable(EvalReport r)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine(c, $"Fashion-MNIST test set ({r.TestSamples} images); latency over {r.Iterations} (batch 1) and {Math.Max(1, r.Iterations / 4)} (batch 64) runs; threads {(r.Threads == 0 ? "default" : r.Threads.ToString(c))}");
        sb.AppendLine("| model | runtime | weights | size | accuracy | batch 1 p50/p99 (ms) | batch 64 p50/p99 (ms) | batch 64 throughput (samples/s) |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (EvalModelReport m in r.Models)
        {
            sb.AppendLine(c, $"| {m.Name} | {m.Runtime} | {m.Quantization} | {m.SizeBytes / 1024.0:F1} KiB | {m.Accuracy * 100:F2}% | {m.Latency1.P50:F3} / {m.Latency1.P99:F3} | {m.Latency64.P50:F3} / {m.Latency64.P99:F3} | {m.Latency64.SamplesPerSecond:F0} |");
        }
        return sb.ToString();
    }
}
