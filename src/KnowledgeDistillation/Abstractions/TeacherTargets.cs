using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Abstractions;

/// <summary>
/// What a student learns from for one batch: the teacher's dense logits <c>[rows, classes]</c>, or a sparse top-k
/// (class index, value) list per row, as read from a top-k teacher cache.
/// </summary>
public sealed class TeacherTargets
{
    private TeacherTargets(int rows, int classes, Float32Tensor? logits, int k, ReadOnlyMemory<int> indices, ReadOnlyMemory<float> values, TopKValueKind valueKind)
    {
        Rows = rows;
        Classes = classes;
        Logits = logits;
        K = k;
        TopKIndices = indices;
        TopKValues = values;
        ValueKind = valueKind;
    }

    /// <summary>Dense targets: the teacher's logits.</summary>
    /// <exception cref="ArgumentException">The tensor is not <c>[rows, classes]</c>.</exception>
    public static TeacherTargets Dense(Float32Tensor logits)
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (logits.Shape.Count != 2)
        {
            throw new ArgumentException($"Teacher logits must be [rows, classes]; got {logits.ShapeText}.", nameof(logits));
        }
        return new TeacherTargets(logits.Shape[0], logits.Shape[1], logits, 0, default, default, TopKValueKind.Logits);
    }

    /// <summary>Sparse targets: <paramref name="k"/> (index, value) pairs per row, row-major.</summary>
    /// <exception cref="ArgumentException">Lengths do not match <c>rows × k</c>, or k is outside [1, classes].</exception>
    public static TeacherTargets TopK(int rows, int classes, int k, ReadOnlyMemory<int> indices, ReadOnlyMemory<float> values, TopKValueKind valueKind)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        if (k < 1 || k > classes)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be in [1, classes] = [1, {classes}].");
        }
        if (indices.Length != (long)rows * k || values.Length != (long)rows * k)
        {
            throw new ArgumentException($"Top-k targets for {rows} rows × k = {k} need {(long)rows * k} indices and values; got {indices.Length} and {values.Length}.", nameof(indices));
        }
        return new TeacherTargets(rows, classes, null, k, indices, values, valueKind);
    }

    /// <summary>Rows in the batch.</summary>
    public int Rows { get; }

    /// <summary>Classes of the teacher's output.</summary>
    public int Classes { get; }

    /// <summary>The dense logits, or null for top-k targets.</summary>
    public Float32Tensor? Logits { get; }

    /// <summary>True for top-k targets.</summary>
    public bool IsTopK => Logits is null;

    /// <summary>Entries per row of top-k targets; 0 for dense ones.</summary>
    public int K { get; }

    /// <summary>Class indices of top-k targets, <c>[rows × k]</c>, each row by descending value.</summary>
    public ReadOnlyMemory<int> TopKIndices { get; }

    /// <summary>Values of top-k targets, <c>[rows × k]</c>.</summary>
    public ReadOnlyMemory<float> TopKValues { get; }

    /// <summary>Whether top-k values are logits or log-probabilities.</summary>
    public TopKValueKind ValueKind { get; }
}
