using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Onnx.Export.Emitters;
using Microsoft.ML.OnnxRuntime;

namespace KnowledgeDistillation.Onnx.Quantization;

/// <summary>
/// Measures activation ranges for static int8: runs a calibration graph (see <see cref="CalibrationEmitter"/>) in ONNX
/// Runtime over sample batches and takes each tap's min/max, or its percentiles.
/// </summary>
internal static class ActivationCalibrator
{
    /// <summary>Values kept per tap and batch for percentiles (a strided sample of larger outputs).</summary>
    private const int PercentileSamplesPerBatch = 65536;

    /// <summary>Returns the range of every tap of <paramref name="tapped"/>, by range name.</summary>
    /// <exception cref="ArgumentException">No batches, or a batch whose samples do not have the model's input shape.</exception>
    public static Dictionary<string, (float Min, float Max)> Calibrate(byte[] tapped, string inputName, IEnumerable<Float32Tensor> batches, Int8QuantizationOptions quantization)
    {
        using var sessionOptions = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(tapped, sessionOptions);
        string[] tapNames = session.OutputMetadata.Keys.Where(k => k.StartsWith(CalibrationEmitter.TapPrefix, StringComparison.Ordinal)).ToArray();
        long[] sample = session.InputMetadata[inputName].Dimensions.Skip(1).Select(d => (long)d).ToArray();
        bool percentile = quantization.Calibration == ActivationCalibration.Percentile;
        var minMax = tapNames.ToDictionary(n => n, _ => (Min: float.PositiveInfinity, Max: float.NegativeInfinity));
        var samples = tapNames.ToDictionary(n => n, _ => new List<float>());
        int seen = 0;
        long perSample = sample.Aggregate(1L, (a, d) => a * d);
        foreach (Float32Tensor batch in batches)
        {
            if (batch.Data.Length != batch.Rows * perSample)
            {
                throw new ArgumentException(
                    $"A calibration batch of shape {batch.ShapeText} does not hold samples of shape [{string.Join(", ", sample)}].", nameof(batches));
            }
            float[] data = batch.Data.ToArray();
            using OrtValue input = OrtValue.CreateTensorValueFromMemory(data, [batch.Rows, .. sample]);
            using var runOptions = new RunOptions();
            using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, [inputName], [input], tapNames);
            for (int t = 0; t < tapNames.Length; t++)
            {
                ReadOnlySpan<float> values = results[t].GetTensorDataAsSpan<float>();
                (float min, float max) = minMax[tapNames[t]];
                foreach (float v in values)
                {
                    min = Math.Min(min, v);
                    max = Math.Max(max, v);
                }
                minMax[tapNames[t]] = (min, max);
                if (percentile)
                {
                    int stride = Math.Max(1, values.Length / PercentileSamplesPerBatch);
                    List<float> kept = samples[tapNames[t]];
                    for (int k = 0; k < values.Length; k += stride)
                    {
                        kept.Add(values[k]);
                    }
                }
            }
            seen += batch.Rows;
        }
        if (seen == 0)
        {
            throw new ArgumentException("Static int8 quantization needs calibration data, but no batches were given.", nameof(batches));
        }
        var ranges = new Dictionary<string, (float Min, float Max)>(StringComparer.Ordinal);
        foreach (string tap in tapNames)
        {
            (float min, float max) = minMax[tap];
            if (percentile)
            {
                float[] sorted = [.. samples[tap]];
                Array.Sort(sorted);
                double p = quantization.Percentile / 100.0;
                min = sorted[(int)Math.Floor((1 - p) * (sorted.Length - 1))];
                max = sorted[(int)Math.Ceiling(p * (sorted.Length - 1))];
            }
            ranges[tap[CalibrationEmitter.TapPrefix.Length..]] = (min, max);
        }
        return ranges;
    }
}
