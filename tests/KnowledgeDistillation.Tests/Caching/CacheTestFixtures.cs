using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;

namespace KnowledgeDistillation.Tests.Caching;

/// <summary>A deterministic linear teacher (logits = W·x + b, accumulated in double) that counts its calls and can cancel after N.</summary>
internal sealed class LinearTeacher : ITeacher
{
    private readonly float[] _weights;
    private readonly int _features;

    public LinearTeacher(int features, int classes, int seed, string name = "linear")
    {
        _features = features;
        var random = new Random(seed);
        _weights = Enumerable.Range(0, (features + 1) * classes).Select(_ => (random.NextSingle() * 8) - 4).ToArray();
        Metadata = new ModelMetadata(name, classes, _weights.Length, []);
    }

    public ModelMetadata Metadata { get; }

    public int Calls { get; private set; }

    public int RowsSeen { get; private set; }

    /// <summary>Cancelled (by the teacher itself) once <see cref="CancelAfterCalls"/> calls have run.</summary>
    public CancellationTokenSource? CancelAfter { get; set; }

    public int CancelAfterCalls { get; set; } = int.MaxValue;

    public float[] Logits(ReadOnlySpan<float> inputs)
    {
        int rows = inputs.Length / _features, classes = Metadata.ClassCount;
        var logits = new float[rows * classes];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < classes; c++)
            {
                double sum = _weights[(_features * classes) + c];
                for (int f = 0; f < _features; f++)
                {
                    sum += _weights[(f * classes) + c] * inputs[(r * _features) + f];
                }
                logits[(r * classes) + c] = (float)sum;
            }
        }
        return logits;
    }

    public ValueTask<ModelOutput> InferAsync(Float32Tensor inputs, IReadOnlyCollection<string>? intermediates = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Calls++;
        RowsSeen += inputs.Rows;
        if (Calls >= CancelAfterCalls)
        {
            CancelAfter?.Cancel();
        }
        return ValueTask.FromResult(new ModelOutput(new Float32Tensor(Logits(inputs.Data.Span), inputs.Rows, Metadata.ClassCount)));
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}

internal static class CacheData
{
    public static LabeledImageSet Images(int count, int classes, int seed, int side = 4)
    {
        var random = new Random(seed);
        float[] pixels = Enumerable.Range(0, count * side * side).Select(_ => random.NextSingle()).ToArray();
        int[] labels = Enumerable.Range(0, count).Select(_ => random.Next(classes)).ToArray();
        return new LabeledImageSet(pixels, labels, side, side, classes, $"random-{seed}");
    }

    public static string TempFolder()
    {
        string path = Path.Combine(Path.GetTempPath(), "kd-cache-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    public static Dictionary<string, byte[]> Files(string folder) =>
        Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
}
