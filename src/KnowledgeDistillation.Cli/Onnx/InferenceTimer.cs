using System.Diagnostics;
using KnowledgeDistillation.Abstractions;

namespace KnowledgeDistillation.Cli.Onnx;

/// <summary>Latency percentiles of one inference path (input copy and output copy included).</summary>
internal static class InferenceTimer
{
    public static LatencyStats Measure(Func<Float32Tensor, ModelOutput> infer, Float32Tensor batch, int iterations, int warmup = 10)
    {
        for (int i = 0; i < warmup; i++)
        {
            _ = infer(batch);
        }
        var samples = new double[Math.Max(1, iterations)];
        for (int i = 0; i < samples.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _ = infer(batch);
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(samples);
        return new LatencyStats(Percentile(samples, 0.50), Percentile(samples, 0.99), batch.Rows / (samples.Average() / 1000.0));
    }

    private static double Percentile(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, Math.Max(0, (int)Math.Ceiling(q * sorted.Length) - 1))];
}

/// <summary>Latency in milliseconds and throughput.</summary>
internal sealed record LatencyStats(double P50, double P99, double SamplesPerSecond);
