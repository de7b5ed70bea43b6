namespace KnowledgeDistillation.Data;

/// <summary>
/// An in-memory image classification data set: <see cref="Count"/> images of <see cref="Height"/> × <see cref="Width"/>
/// pixels (one channel), stored as floats in [0, 1], row-major, with one label per image.
/// </summary>
public sealed class LabeledImageSet
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

    /// <summary>Returns the first <paramref name="count"/> images (or all, if fewer) as a new set.</summary>
    public LabeledImageSet Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int n = Math.Min(count, Count);
        return new LabeledImageSet(Pixels.AsSpan(0, n * FeatureCount).ToArray(), Labels.AsSpan(0, n).ToArray(), Height, Width, ClassCount, $"{Name}[0..{n})");
    }
}
