using BenchmarkDotNet.Attributes;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Onnx.Export;
using KnowledgeDistillation.Onnx.Quantization;
using KnowledgeDistillation.Onnx.Teachers;
using KnowledgeDistillation.Onnx.TorchSharp;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;

namespace KnowledgeDistillation.Benchmarks;

/// <summary>
/// Inference latency of the CLI's default student and teacher on Fashion-MNIST-shaped inputs: TorchSharp eager
/// (<see cref="TorchModel.Predict"/>) against the same weights exported to ONNX and run by ONNX Runtime in FP32 and
/// int8 (QDQ, static min-max calibration). One thread each, end to end through the library's API (input copy in,
/// logits copy out), so the numbers are what a caller sees. Weights are random: latency does not depend on them.
/// </summary>
[MemoryDiagnoser]
[JsonExporterAttribute.Full]
public class InferenceBenchmarks
{
    private static readonly int[] ImageShape = [1, 28, 28];

    private TorchModel? _torch;
    private OnnxTeacher? _fp32;
    private OnnxTeacher? _int8;
    private Float32Tensor? _input;

    /// <summary><c>student</c> is <c>cnn:16,32</c> (the CLI's default student), <c>teacher</c> is <c>cnn:32,64,128:bn</c>.</summary>
    [Params("student", "teacher")]
    public string Model { get; set; } = "";

    [Params(1, 64)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        TorchSharpRuntime.EnsureInitialized();
        torch.set_num_threads(1);
        string preset = Model == "teacher" ? "cnn:32,64,128:bn" : "cnn:16,32";
        _torch = TorchModel.FromPreset(preset, ImageShape, 10, seed: 7);
        _torch.Module.eval();
        var random = new Random(3);
        Float32Tensor RandomImages(int rows) => new(Enumerable.Range(0, rows * 784).Select(_ => (float)random.NextDouble()).ToArray(), rows, 1, 28, 28);
        _input = RandomImages(Batch);
        var options = new OnnxTeacherOptions { IntraOpThreads = 1, InterOpThreads = 1 };
        _fp32 = OnnxTeacher.FromBytes(_torch.ExportToOnnx(), "fp32", options);
        _int8 = OnnxTeacher.FromBytes(_torch.ExportToOnnxInt8(Enumerable.Range(0, 8).Select(_ => RandomImages(64)).ToArray()), "int8", options);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _fp32?.Dispose();
        _int8?.Dispose();
        _torch?.Dispose();
    }

    [Benchmark(Baseline = true, Description = "TorchSharp eager")]
    public ModelOutput TorchSharpEager() => _torch!.Predict(_input!);

    [Benchmark(Description = "ONNX Runtime FP32")]
    public ModelOutput OnnxRuntimeFp32() => _fp32!.Infer(_input!);

    [Benchmark(Description = "ONNX Runtime int8")]
    public ModelOutput OnnxRuntimeInt8() => _int8!.Infer(_input!);
}
