using System.Text.Json;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Cli.Onnx;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Training;

namespace KnowledgeDistillation.Cli.Tests;

public sealed class OnnxCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-onnx-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Weights(string spec)
    {
        string path = Path.Combine(_dir, "student.weights");
        using TorchModel model = TorchModel.FromPreset(spec, [1, 28, 28], 10, seed: 4);
        KnowledgeDistillation.IO.WeightsFile.Save(model, path);
        return path;
    }

    [Fact]
    public async Task Export_Float32AndInt8_ThenEval_ReportsParitySizeAndLatency()
    {
        string weights = Weights("cnn:4,8");
        string fp32 = Path.Combine(_dir, "student.onnx");
        string int8 = Path.Combine(_dir, "student-int8.onnx");
        string json = Path.Combine(_dir, "export.json");
        var output = new StringWriter();

        int code = await ExportCommand.RunAsync(new ExportCommand.Settings { Checkpoint = weights, Architecture = "cnn:4,8", Output = fp32, TestLimit = 200, Temperature = 4, JsonPath = json }, output, output, CancellationToken.None);
        code.Should().Be(0, output.ToString());
        using (JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json)))
        {
            doc.RootElement.GetProperty("max_abs_logit_difference").GetDouble().Should().BeLessThanOrEqualTo(1e-4);
            doc.RootElement.GetProperty("onnx_accuracy").GetDouble().Should().Be(doc.RootElement.GetProperty("torch_accuracy").GetDouble());
        }
        code = await ExportCommand.RunAsync(new ExportCommand.Settings { Checkpoint = weights, Architecture = "cnn:4,8", Output = int8, Quantize = "int8", Calibration = 128, TestLimit = 200 }, output, output, CancellationToken.None);
        code.Should().Be(0, output.ToString());
        output.ToString().Should().Contain("int8-static-minmax");

        EvalReport report = EvalCommand.Run(new EvalCommand.Settings { OnnxFiles = [fp32, int8], Checkpoint = weights, Architecture = "cnn:4,8", TestLimit = 200, Iterations = 8, Threads = 1 });
        report.Models.Select(m => m.Runtime).Should().Equal("onnxruntime", "onnxruntime", "torchsharp-eager");
        report.Models[0].Accuracy.Should().Be(report.Models[2].Accuracy);
        report.Models.Should().OnlyContain(m => m.Latency1.P50 > 0 && m.Latency64.P99 >= m.Latency64.P50);
        EvalCommand.FormatTable(report).Should().Contain("| student-int8.onnx | onnxruntime | int8-static-minmax |");
    }

    [Fact]
    public async Task Export_BadInputs_FailWithAMessage_NotACrash()
    {
        var error = new StringWriter();
        (await ExportCommand.RunAsync(new ExportCommand.Settings { Checkpoint = Path.Combine(_dir, "missing.weights"), Architecture = "cnn:4,8", Output = Path.Combine(_dir, "x.onnx") }, error, error, CancellationToken.None))
            .Should().Be(2);
        error.ToString().Should().Contain("does not exist");

        string weights = Weights("cnn:4,8");
        (await ExportCommand.RunAsync(new ExportCommand.Settings { Checkpoint = weights, Output = Path.Combine(_dir, "x.onnx") }, error, error, CancellationToken.None)).Should().Be(2);
        error.ToString().Should().Contain("--arch");
        (await ExportCommand.RunAsync(new ExportCommand.Settings { Checkpoint = weights, Architecture = "cnn:8,16", Output = Path.Combine(_dir, "x.onnx") }, error, error, CancellationToken.None)).Should().Be(2);
        error.ToString().Should().Contain("do not fit architecture 'cnn:8,16'");
        (await ExportCommand.RunAsync(new ExportCommand.Settings { Checkpoint = weights, Architecture = "cnn:4,8", Output = Path.Combine(_dir, "x.onnx"), Quantize = "int4" }, error, error, CancellationToken.None)).Should().Be(2);
        error.ToString().Should().Contain("--quantize 'int4'");

        string notOnnx = Path.Combine(_dir, "notes.onnx");
        await File.WriteAllTextAsync(notOnnx, "not a model");
        Action eval = () => EvalCommand.Run(new EvalCommand.Settings { OnnxFiles = [notOnnx], TestLimit = 10, Iterations = 1 });
        eval.Should().Throw<InvalidDataException>().WithMessage($"*'{notOnnx}'*");
    }

    [Fact]
    public async Task Export_FromATrainingCheckpoint_TakesTheArchitectureFromItsHeader()
    {
        string checkpoint = Path.Combine(_dir, "run.kdckpt");
        new TrainingCheckpoint
        {
            Header = new CheckpointHeader { StudentName = "mlp:16" },
            StudentWeights = KnowledgeDistillation.IO.WeightsFile.ReadVerified(Weights("mlp:16")),
            OptimizerState = [],
        }.Save(checkpoint);
        var output = new StringWriter();

        int code = await ExportCommand.RunAsync(new ExportCommand.Settings { Checkpoint = checkpoint, Output = Path.Combine(_dir, "mlp.onnx"), TestLimit = 100 }, output, output, CancellationToken.None);

        code.Should().Be(0, output.ToString());
        output.ToString().Should().Contain("exported mlp:16");
    }
}
