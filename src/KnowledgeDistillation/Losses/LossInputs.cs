using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Losses;

/// <summary>
/// The inputs of a logit-level loss for one (micro-)batch: student and teacher logits <c>[rows, classes]</c>, hard
/// labels, the training position (for schedules), and the normalizer.
/// </summary>
public readonly ref struct LossInputs
{
    /// <summary>Creates the inputs.</summary>
    /// <param name="studentLogits">Student logits, <c>rows × classes</c>.</param>
    /// <param name="teacherLogits">Teacher logits, <c>rows × classes</c>; empty when there is no teacher.</param>
    /// <param name="labels">Hard labels, one per row (its length defines the rows).</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="step">The optimisation step (for schedules).</param>
    /// <param name="totalSteps">The total number of steps (for schedules).</param>
    /// <param name="normalizer">What summed per-row losses are divided by; null means the rows of this batch. Under gradient
    /// accumulation pass the rows of the whole accumulated batch, so the accumulated gradient equals the large-batch one.</param>
    public LossInputs(ReadOnlySpan<float> studentLogits, ReadOnlySpan<float> teacherLogits, ReadOnlySpan<int> labels, int classes, long step, long totalSteps, float? normalizer = null)
    {
        StudentLogits = studentLogits;
        TeacherLogits = teacherLogits;
        Labels = labels;
        Classes = classes;
        Step = step;
        TotalSteps = totalSteps;
        Normalizer = normalizer;
    }

    /// <summary>Student logits.</summary>
    public ReadOnlySpan<float> StudentLogits { get; }

    /// <summary>Teacher logits (empty without a teacher).</summary>
    public ReadOnlySpan<float> TeacherLogits { get; }

    /// <summary>Hard labels.</summary>
    public ReadOnlySpan<int> Labels { get; }

    /// <summary>The number of classes.</summary>
    public int Classes { get; }

    /// <summary>The optimisation step.</summary>
    public long Step { get; }

    /// <summary>The total number of steps.</summary>
    public long TotalSteps { get; }

    /// <summary>The normalizer, or null for the rows of this batch.</summary>
    public float? Normalizer { get; }

    /// <summary>The number of rows.</summary>
    public int Rows => Labels.Length;

    /// <summary>True when dense teacher logits are present.</summary>
    public bool HasTeacher => !TeacherLogits.IsEmpty;

    /// <summary>Sparse teacher targets instead of dense logits (a top-k teacher cache): class indices, <c>rows × <see cref="TeacherTopK"/></c>.</summary>
    public ReadOnlySpan<int> TeacherTopKIndices { get; init; }

    /// <summary>Sparse teacher values (logits or log-probabilities, see <see cref="TeacherTopKValueKind"/>), <c>rows × <see cref="TeacherTopK"/></c>.</summary>
    public ReadOnlySpan<float> TeacherTopKValues { get; init; }

    /// <summary>Entries per row of the sparse teacher targets; 0 when there are none.</summary>
    public int TeacherTopK { get; init; }

    /// <summary>Whether <see cref="TeacherTopKValues"/> are logits or log-probabilities.</summary>
    public TopKValueKind TeacherTopKValueKind { get; init; }

    /// <summary>True when sparse top-k teacher targets are present. Only losses that accept them (<see cref="TopKHintonDistillationLoss"/>) use them.</summary>
    public bool HasTopKTeacher => TeacherTopK > 0;
}
