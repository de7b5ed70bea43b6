using KnowledgeDistillation.Abstractions;

namespace KnowledgeDistillation.Data;

/// <summary>
/// Wraps an image batch source with the standard light augmentation for small grey-scale images: a random crop of
/// the image padded by <see cref="Padding"/> pixels (padding with 0, the background) and, optionally, a random horizontal
/// flip. The randomness depends on <c>(seed, epoch)</c> only, so augmented runs stay reproducible and resumable.
/// </summary>
/// <remarks>Use it for training data only; evaluate on the plain source.</remarks>
public sealed class AugmentedImageSource : IBatchSource
{
    private readonly IBatchSource _inner;

    /// <summary>Creates the decorator.</summary>
    /// <param name="inner">A source whose samples are <c>[channels, height, width]</c> images.</param>
    /// <param name="padding">Pixels of padding before the random crop (0 disables cropping).</param>
    /// <param name="horizontalFlip">Flip half of the images left–right.</param>
    public AugmentedImageSource(IBatchSource inner, int padding = 2, bool horizontalFlip = true)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        if (inner.SampleShape.Count != 3)
        {
            throw new ArgumentException($"Augmentation needs [channels, height, width] samples; the source has [{string.Join(", ", inner.SampleShape)}].", nameof(inner));
        }
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        if (padding >= Math.Min(inner.SampleShape[1], inner.SampleShape[2]))
        {
            throw new ArgumentOutOfRangeException(nameof(padding), padding, "Padding must be smaller than the image.");
        }
        Padding = padding;
        HorizontalFlip = horizontalFlip;
    }

    /// <summary>Padding before cropping.</summary>
    public int Padding { get; }

    /// <summary>Whether images are flipped.</summary>
    public bool HorizontalFlip { get; }

    /// <inheritdoc />
    public int Count => _inner.Count;

    /// <inheritdoc />
    public int ClassCount => _inner.ClassCount;

    /// <inheritdoc />
    public IReadOnlyList<int> SampleShape => _inner.SampleShape;

    /// <inheritdoc />
    public IEnumerable<Batch> GetBatches(int batchSize, bool shuffle, int seed, int epoch)
    {
        var random = new Random(unchecked((seed * 7_368_787) + (epoch * 31) + 17));
        int c = SampleShape[0], h = SampleShape[1], w = SampleShape[2];
        foreach (Batch batch in _inner.GetBatches(batchSize, shuffle, seed, epoch))
        {
            ReadOnlySpan<float> source = batch.Inputs.Data.Span;
            var output = new float[source.Length];
            int rows = batch.Labels.Length, size = c * h * w;
            for (int r = 0; r < rows; r++)
            {
                int dy = Padding == 0 ? 0 : random.Next(-Padding, Padding + 1);
                int dx = Padding == 0 ? 0 : random.Next(-Padding, Padding + 1);
                bool flip = HorizontalFlip && random.Next(2) == 1;
                ReadOnlySpan<float> image = source.Slice(r * size, size);
                Span<float> target = output.AsSpan(r * size, size);
                for (int ch = 0; ch < c; ch++)
                {
                    for (int y = 0; y < h; y++)
                    {
                        int sy = y + dy;
                        if ((uint)sy >= (uint)h)
                        {
                            continue; // padding: stays 0
                        }
                        for (int x = 0; x < w; x++)
                        {
                            int sx = (flip ? w - 1 - x : x) + dx;
                            if ((uint)sx < (uint)w)
                            {
                                target[(ch * h * w) + (y * w) + x] = image[(ch * h * w) + (sy * w) + sx];
                            }
                        }
                    }
                }
            }
            yield return batch with { Inputs = new Float32Tensor(output, [.. batch.Inputs.Shape]) };
        }
    }
}
