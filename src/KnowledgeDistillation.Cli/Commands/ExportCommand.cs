using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Cli.Onnx;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Datasets;
using KnowledgeDistillation.IO;
using KnowledgeDistillation.Metrics;
using KnowledgeDistillation.Onnx.Export;
using KnowledgeDistillation.Onnx.Quantization;
using KnowledgeDistillation.Onnx.Teachers;
using KnowledgeDistillation.Onnx.TorchSharp;
using KnowledgeDistillation.TorchSharp.Models;

namespace KnowledgeDistillation.Cli.Commands;

/// <summary><c>kd export</c>: a trained student to ONNX (float32 or int8), checked against TorchSharp on the test set.</summary>
internal static class ExportCommand
{
    internal sealed record Settings
    {
        public required string Checkpoint { get; init; }
        public string? Architecture { get; init; }
        public required string Output { get; init; }
        public string Quantize { get; init; } = "none";
        public string Activations { get; init; } = "static";
        public int Calibration { get; init; } = 500;
        public string CalibrationMethod { get; init; } = "minmax";
        public double Percentile { get; init; } = 99.99;
        public int MinimumFanIn { get; init; } = 16;
        public string? Teacher { get; init; }
        public double? Temperature { get; init; }
        public int? TestLimit { get; init; }
        public string? DataDirectory { get; init; }
        public string? JsonPath { get; init; }
        public IReadOnlyList<string> Intermediates { get; init; } = [];
    }

    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "The student: a weights file written by 'kd distill' (with --arch) or a .kdckpt training checkpoint.", Required = true };
        var arch = new Option<string?>("--arch") { Description = "The student's architecture (mlp:… | cnn:…), needed for a weights file; a checkpoint records it." };
        var output = new Option<string>("--out") { Description = "The .onnx file to write.", Required = true };
        var quantize = new Option<string>("--quantize") { Description = "none (float32) or int8 (per-channel int8 weights, QDQ).", DefaultValueFactory = _ => "none" };
        var activations = new Option<string>("--activations") { Description = "int8 activations: static (calibrated) or dynamic.", DefaultValueFactory = _ => "static" };
        var calibration = new Option<int>("--calibration") { Description = "Training images used to calibrate static int8 activations.", DefaultValueFactory = _ => 500 };
        var method = new Option<string>("--calibration-method") { Description = "minmax or percentile.", DefaultValueFactory = _ => "minmax" };
        var percentile = new Option<double>("--percentile") { Description = "Percentile for --calibration-method percentile.", DefaultValueFactory = _ => 99.99 };
        var minFanIn = new Option<int>("--min-fan-in") { Description = "int8: layers with fewer inputs per output than this stay float32 (0 = quantize all).", DefaultValueFactory = _ => 16 };
        var teacher = new Option<string?>("--teacher") { Description = "The teacher's id, written into the model's metadata." };
        var temperature = new Option<double?>("--temperature") { Description = "The distillation temperature, written into the model's metadata." };
        var intermediates = new Option<string?>("--intermediates") { Description = "Comma-separated layer names to expose as extra outputs (for feature distillation from the exported model)." };
        var testLimit = new Option<int?>("--test-limit") { Description = "Check on only the first N test images." };
        var data = new Option<string?>("--data") { Description = "Folder with the Fashion-MNIST IDX files." };
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file." };
        var command = new Command("export", "Export a trained student to ONNX (opset 17, dynamic batch), optionally int8-quantized, and check it against TorchSharp on the Fashion-MNIST test set.")
        {
            checkpoint, arch, output, quantize, activations, calibration, method, percentile, minFanIn, teacher, temperature, intermediates, testLimit, data, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new Settings
            {
                Checkpoint = parse.GetValue(checkpoint)!,
                Architecture = parse.GetValue(arch),
                Output = parse.GetValue(output)!,
                Quantize = parse.GetValue(quantize)!,
                Activations = parse.GetValue(activations)!,
                Calibration = parse.GetValue(calibration),
                CalibrationMethod = parse.GetValue(method)!,
                Percentile = parse.GetValue(percentile),
                MinimumFanIn = parse.GetValue(minFanIn),
                Teacher = parse.GetValue(teacher),
                Temperature = parse.GetValue(temperature),
                Intermediates = (parse.GetValue(intermediates) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                TestLimit = parse.GetValue(testLimit),
                DataDirectory = parse.GetValue(data),
                JsonPath = parse.GetValue(json),
            };
            return await RunAsync(settings, Console.Out, Console.Error, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    internal static async Task<int> RunAsync(Settings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        try
        {
            ExportReport report = Run(settings, output);
            if (settings.JsonPath is { } path)
            {
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(report, CliJsonContext.Default.ExportReport));
                output.WriteLine($"results written to {path}");
            }
            return 0;
        }
        catch (Exception ex) when (CliFailure.Describe(ex, "A model written before is left as it was.") is { } message)
        {
            await error.WriteLineAsync($"kd export: {message}").ConfigureAwait(false);
            return CliFailure.ExitCode;
        }
    }

    /// <summary>Checks every option before any work (ranges, and that paths are files or folders as expected).</summary>
    internal static void Validate(Settings settings)
    {
        OptionRules.InputFile("--checkpoint", settings.Checkpoint, "a student weights file (kd distill --out) or a .kdckpt checkpoint");
        OptionRules.OutputFile("--out", settings.Output, "the ONNX model");
        OptionRules.Range("--calibration", settings.Calibration, 0, int.MaxValue, "training images that calibrate static int8 activations");
        OptionRules.Positive("--percentile", settings.Percentile, 100, "the percentile of --calibration-method percentile");
        OptionRules.Range("--min-fan-in", settings.MinimumFanIn, 0, int.MaxValue, "inputs per output below which a layer stays float32");
        if (settings.Temperature is { } temperature)
        {
            OptionRules.Positive("--temperature", temperature, 1000, "the distillation temperature written into the metadata");
        }
        OptionRules.Range("--test-limit", settings.TestLimit, 1, int.MaxValue, "test images the export is checked on");
        OptionRules.InputFolder("--data", settings.DataDirectory, "the Fashion-MNIST IDX files");
        OptionRules.OutputFile("--json", settings.JsonPath, "the results");
    }

    internal static ExportReport Run(Settings settings, TextWriter output)
    {
        Validate(settings);
        bool int8 = settings.Quantize.ToLowerInvariant() switch
        {
            "none" or "fp32" or "float32" => false,
            "int8" => true,
            _ => throw new ArgumentException($"--quantize '{settings.Quantize}' is not valid: use none or int8.", "--quantize"),
        };
        var quantization = new Int8QuantizationOptions
        {
            Activations = settings.Activations.ToLowerInvariant() switch
            {
                "static" => ActivationQuantization.Static,
                "dynamic" => ActivationQuantization.Dynamic,
                _ => throw new ArgumentException($"--activations '{settings.Activations}' is not valid: use static or dynamic.", "--activations"),
            },
            Calibration = settings.CalibrationMethod.ToLowerInvariant() switch
            {
                "minmax" => ActivationCalibration.MinMax,
                "percentile" => ActivationCalibration.Percentile,
                _ => throw new ArgumentException($"--calibration-method '{settings.CalibrationMethod}' is not valid: use minmax or percentile.", "--calibration-method"),
            },
            Percentile = settings.Percentile,
            MinimumFanIn = settings.MinimumFanIn,
        };
        if (int8 && quantization.Activations == ActivationQuantization.Static && settings.Calibration < 1)
        {
            throw new ArgumentException("--calibration must be at least 1 for static int8 activations.", "--calibration");
        }

        using TorchModel student = StudentLoader.Load(settings.Checkpoint, settings.Architecture);
        LabeledImageSet test = FashionMnist.Load(DataSplit.Test, settings.DataDirectory);
        if (settings.TestLimit is { } limit)
        {
            test = test.Take(Math.Min(limit, test.Count));
        }
        float[] torchLogits = PredictAll(b => student.Predict(b).Logits, test);
        double torchAccuracy = ClassificationMetrics.Accuracy(torchLogits, test.Labels, 10);

        StudentGraph graph = TorchOnnxConverter.ToStudentGraph(student);
        OnnxExportOptions Options(double accuracy) => new()
        {
            TeacherId = settings.Teacher,
            Temperature = settings.Temperature,
            Accuracy = accuracy,
            IntermediateOutputs = settings.Intermediates,
            Metadata = new Dictionary<string, string>
            {
                ["kd.accuracy_samples"] = test.Count.ToString(CultureInfo.InvariantCulture),
                ["kd.source"] = Path.GetFileName(settings.Checkpoint),
            },
        };
        byte[] fp32 = OnnxExporter.Export(graph, Options(torchAccuracy));
        byte[] model = fp32;
        int calibrationSamples = 0;
        List<Float32Tensor>? calibration = null;
        if (int8)
        {
            if (quantization.Activations == ActivationQuantization.Static)
            {
                LabeledImageSet train = FashionMnist.Load(DataSplit.Train, settings.DataDirectory);
                LabeledImageSet sample = train.Take(Math.Min(settings.Calibration, train.Count));
                calibrationSamples = sample.Count;
                calibration = sample.GetBatches(64, shuffle: false, seed: 0, epoch: 0).Select(b => b.Inputs).ToList();
            }
            model = OnnxExporter.ExportInt8(graph, calibration, quantization, Options(torchAccuracy));
        }

        float[] onnxLogits;
        string quantizationText;
        using (OnnxTeacher check = OnnxTeacher.FromBytes(model, settings.Output))
        {
            onnxLogits = PredictAll(b => check.Infer(b).Logits, test);
            quantizationText = check.CustomMetadata["kd.quantization"];
        }
        double onnxAccuracy = ClassificationMetrics.Accuracy(onnxLogits, test.Labels, 10);
        if (int8)
        {
            // Record the int8 model's own accuracy in its metadata (the export is deterministic for the same calibration data).
            model = OnnxExporter.ExportInt8(graph, calibration, quantization, Options(onnxAccuracy));
        }
        float maxDiff = 0;
        for (int i = 0; i < onnxLogits.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(onnxLogits[i] - torchLogits[i]));
        }
        OnnxExporter.Save(model, settings.Output);

        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"exported {student.Metadata.Name} ({graph.ParameterCount:N0} parameters) to {settings.Output} ({quantizationText}, opset {OnnxExporter.Opset}, dynamic batch)"));
        output.WriteLine(string.Create(c, $"size: float32 {fp32.Length / 1024.0:F1} KiB, written {model.Length / 1024.0:F1} KiB ({100.0 * model.Length / fp32.Length:F1}% of float32)"));
        output.WriteLine(string.Create(c, $"test set ({test.Count} images): TorchSharp {torchAccuracy * 100:F2}%, ONNX {onnxAccuracy * 100:F2}% ({(onnxAccuracy - torchAccuracy) * 100:+0.00;-0.00} points); max |logit difference| {maxDiff:E2}"));
        return new ExportReport(settings.Checkpoint, student.Metadata.Name, settings.Output, quantizationText, fp32.Length, model.Length, (double)model.Length / fp32.Length,
            test.Count, torchAccuracy, onnxAccuracy, maxDiff, calibrationSamples);
    }

    internal static float[] PredictAll(Func<Float32Tensor, Float32Tensor> predict, LabeledImageSet set)
    {
        var logits = new float[set.Count * 10];
        int offset = 0;
        foreach (Batch batch in set.GetBatches(500, shuffle: false, seed: 0, epoch: 0))
        {
            Float32Tensor result = predict(batch.Inputs);
            result.Data.Span.CopyTo(logits.AsSpan(offset));
            offset += result.Data.Length;
        }
        return logits;
    }
}
