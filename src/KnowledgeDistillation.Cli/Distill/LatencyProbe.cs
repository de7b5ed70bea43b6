using System.Diagnostics;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;

namespace KnowledgeDistillation.Cli.Distill;

/// <summary>Measures inference latency percentiles of a model through its public <see cref="ITeacher"/> path (input copy included).</summary>
internal static class LatencyProbe
{
    public static LatencyResult Measure(ITeacher model, LabeledImageSet data, int batchSize, int iterations, int warmup = 5)
    {
        Batch batch = data.GetBatches(batchSize, shuffle: false, 0, 0).First();
        for (int i = 0; i < warmup; i++)
        {
            _ = Infer(model, batch.Inputs);
        }
        var samples = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _ = Infer(model, batch.Inputs);
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(samples);
        double p50 = Percentile(samples, 0.50), p99 = Percentile(samples, 0.99);
        return new LatencyResult(p50, p99, batch.Labels.Length / (samples.Average() / 1000.0));
    }

    /// <summary>Synchronous inference: a teacher that completes at once (TorchSharp, ONNX Runtime) costs no task allocation.</summary>
    public static ModelOutput Infer(ITeacher model, Float32Tensor inputs)
    {
        ValueTask<ModelOutput> pending = model.InferAsync(inputs);
        return pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
    }

    private static double Percentile(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
}

internal sealed record LatencyResult(double P50, double P99, double SamplesPerSecond);
