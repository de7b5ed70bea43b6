using KnowledgeDistillation.Abstractions;

namespace KnowledgeDistillation.Data;

/// <summary>
/// An in-memory image classification data set: <see cref="Count"/> images of <see cref="Height"/> × <see cref="Width"/>
/// pixels (one channel), stored as floats in [0, 1], row-major, with one label per image.
/// </summary>
public sealed class LabeledImageSet : IBatchSource
{
    /// <summary>Creates a data set, validating that the buffers agree with the shape.</summary>
    /// <param name="pixels">Count × height × width pixel values.</param>
    /// <param name="labels">One class index per image, each in [0, <paramref name="classCount"/>).</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="name">A name used in messages (for example the file it came from).</param>
    public LabeledImageSet(float[] pixels, int[] labels, int height, int width, int classCount, string name)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        if ((long)labels.Length * height * width != pixels.Length)
        {
            throw new ArgumentException(
                $"Data set '{name}': {labels.Length} labels need {(long)labels.Length * height * width} pixels of {height}×{width}, but {pixels.Length} were given.",
                nameof(pixels));
        }
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(labels), labels[i], $"Data set '{name}': label {labels[i]} at index {i} is outside [0, {classCount}).");
            }
        }
        Pixels = pixels;
        Labels = labels;
        Height = height;
        Width = width;
        ClassCount = classCount;
        Name = name;
    }

    /// <summary>Pixel values in [0, 1], <c>Count × Height × Width</c>, row-major.</summary>
    public float[] Pixels { get; }

    /// <summary>Class index per image.</summary>
    public int[] Labels { get; }

    /// <summary>Image height.</summary>
    public int Height { get; }

    /// <summary>Image width.</summary>
    public int Width { get; }

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>A descriptive name.</summary>
    public string Name { get; }

    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>Pixels per image.</summary>
    public int FeatureCount => Height * Width;

    /// <inheritdoc />
    public IReadOnlyList<int> SampleShape => [1, Height, Width];

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is less than 1.</exception>
    /// <exception cref="InvalidOperationException">The set is empty.</exception>
    public IEnumerable<Batch> GetBatches(int batchSize, bool shuffle, int seed, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (Count == 0)
        {
            throw new InvalidOperationException($"Data set '{Name}' is empty: there is nothing to iterate.");
        }
        return Iterate(batchSize, shuffle, seed, epoch);
    }

    private IEnumerable<Batch> Iterate(int batchSize, bool shuffle, int seed, int epoch)
    {
        int[] order = Enumerable.Range(0, Count).ToArray();
        if (shuffle)
        {
            // The permutation depends on (seed, epoch) only: resuming at an epoch boundary reproduces it exactly.
            // (HashCode.Combine would not do: it is randomised per process.)
            new Random(unchecked((seed * 1_000_003) + epoch)).Shuffle(order);
        }
        int features = FeatureCount;
        for (int start = 0; start < Count; start += batchSize)
        {
            int n = Math.Min(batchSize, Count - start);
            var inputs = new float[n * features];
            var labels = new int[n];
            var indices = new int[n];
            for (int i = 0; i < n; i++)
            {
                int index = order[start + i];
                Pixels.AsSpan(index * features, features).CopyTo(inputs.AsSpan(i * features));
                labels[i] = Labels[index];
                indices[i] = index;
            }
            yield return new Batch(new Float32Tensor(inputs, n, 1, Height, Width), labels, indices);
        }
    }

    /// <summary>Returns the first <paramref name="count"/> images (or all, if fewer) as a new set.</summary>
    public LabeledImageSet Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int n = Math.Min(count, Count);
        return new LabeledImageSet(Pixels.AsSpan(0, n * FeatureCount).ToArray(), Labels.AsSpan(0, n).ToArray(), Height, Width, ClassCount, $"{Name}[0..{n})");
    }
}
