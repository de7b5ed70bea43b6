namespace KnowledgeDistillation.Abstractions;

/// <summary>
/// A dense row-major float32 tensor in CPU memory: the backend-neutral currency between teachers, students,
/// losses and caches. For a batch of logits the shape is <c>[rows, classes]</c>.
/// </summary>
public sealed class Float32Tensor
{
    /// <summary>Creates a tensor over <paramref name="data"/> (not copied).</summary>
    /// <exception cref="ArgumentException">The shape is empty, has a negative size, or does not match the data length.</exception>
    public Float32Tensor(ReadOnlyMemory<float> data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length == 0)
        {
            throw new ArgumentException("A tensor needs at least one dimension.", nameof(shape));
        }
        long count = 1;
        foreach (int size in shape)
        {
            if (size < 0)
            {
                throw new ArgumentException($"Shape [{string.Join(", ", shape)}] has a negative size.", nameof(shape));
            }
            count *= size;
        }
        if (count != data.Length)
        {
            throw new ArgumentException(
                $"Shape [{string.Join(", ", shape)}] needs {count} elements but the data holds {data.Length}.", nameof(data));
        }
        Data = data;
        Shape = shape;
    }

    /// <summary>The elements, row-major.</summary>
    public ReadOnlyMemory<float> Data { get; }

    /// <summary>The size of each dimension.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The first dimension (the batch size).</summary>
    public int Rows => Shape[0];

    /// <summary>The number of elements per row (the product of the other dimensions; 1 for a vector).</summary>
    public int RowLength => Shape.Count == 1 ? 1 : (int)(Data.Length / Math.Max(1, Shape[0]));

    /// <summary>Returns the shape as text, for messages: <c>[64, 10]</c>.</summary>
    public string ShapeText => $"[{string.Join(", ", Shape)}]";

    /// <inheritdoc />
    public override string ToString() => $"Float32Tensor{ShapeText}";
}
