using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Abstractions;

/// <summary>
/// What a student learns from for one batch, in CPU memory: the teacher's dense logits <c>[rows, classes]</c>, or a sparse
/// top-k (class index, value) list per row, as a top-k teacher cache or an API's top log-probabilities give it.
/// </summary>
public sealed class TeacherTargets
{
    private TeacherTargets(int rows, int classCount, Float32Tensor? logits, int topK, ReadOnlyMemory<int> indices, ReadOnlyMemory<float> values, TopKValueKind valueKind)
    {
        Rows = rows;
        ClassCount = classCount;
        Logits = logits;
        TopK = topK;
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

    /// <summary>Sparse targets: <paramref name="topK"/> (index, value) pairs per row, row-major, each row by descending value.</summary>
    /// <exception cref="ArgumentException">Lengths do not match <c>rows × topK</c>, or topK is outside [1, classCount].</exception>
    public static TeacherTargets Sparse(int rows, int classCount, int topK, ReadOnlyMemory<int> indices, ReadOnlyMemory<float> values, TopKValueKind valueKind)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        if (topK < 1 || topK > classCount)
        {
            throw new ArgumentOutOfRangeException(nameof(topK), topK, $"topK must be in [1, classCount] = [1, {classCount}].");
        }
        if (indices.Length != (long)rows * topK || values.Length != (long)rows * topK)
        {
            throw new ArgumentException($"Top-k targets for {rows} rows × top-k = {topK} need {(long)rows * topK} indices and values; got {indices.Length} and {values.Length}.", nameof(indices));
        }
        return new TeacherTargets(rows, classCount, null, topK, indices, values, valueKind);
    }

    /// <summary>Rows in the batch.</summary>
    public int Rows { get; }

    /// <summary>Classes (or vocabulary entries) of the teacher's output.</summary>
    public int ClassCount { get; }

    /// <summary>The dense logits, or null for top-k targets.</summary>
    public Float32Tensor? Logits { get; }

    /// <summary>The form of these targets.</summary>
    public TeacherTargetKinds Kind => Logits is null ? TeacherTargetKinds.TopK : TeacherTargetKinds.DenseLogits;

    /// <summary>Entries per row of top-k targets; 0 for dense ones.</summary>
    public int TopK { get; }

    /// <summary>Class indices of top-k targets, <c>[rows × TopK]</c>, each row by descending value.</summary>
    public ReadOnlyMemory<int> TopKIndices { get; }

    /// <summary>Values of top-k targets, <c>[rows × TopK]</c>.</summary>
    public ReadOnlyMemory<float> TopKValues { get; }

    /// <summary>Whether top-k values are logits or log-probabilities.</summary>
    public TopKValueKind ValueKind { get; }
}
