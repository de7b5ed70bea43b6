namespace KnowledgeDistillation.Cli.Onnx;

/// <summary>What <c>kd export</c> did.</summary>
internal sealed record ExportReport(
    string Checkpoint,
    string Architecture,
    string Output,
    string Quantization,
    long Float32Bytes,
    long OutputBytes,
    double SizeRatio,
    int TestSamples,
    double TorchAccuracy,
    double OnnxAccuracy,
    double MaxAbsLogitDifference,
    int CalibrationSamples);

/// <summary>One model in <c>kd eval</c>.</summary>
internal sealed record EvalModelReport(string Name, string Runtime, string Quantization, long SizeBytes, double Accuracy, LatencyStats Latency1, LatencyStats Latency64);

/// <summary>What <c>kd eval</c> measured.</summary>
internal sealed record EvalReport(int TestSamples, int Iterations, int Threads, IReadOnlyList<EvalModelReport> Models);
