using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Losses;

/// <summary>
/// The inputs of a logit-level loss for one (micro-)batch: student logits <c>[rows, classes]</c>, hard labels, the
/// teacher's targets (dense logits or a sparse top-k list per row), an optional row mask, the training position (for
/// schedules), and the normalizer. For a language model a row is one token position (batch × sequence rows).
/// </summary>
public readonly ref struct LossInputs
{
    /// <summary>Creates the inputs.</summary>
    /// <param name="studentLogits">Student logits, <c>rows × classCount</c>.</param>
    /// <param name="teacherLogits">Dense teacher logits, <c>rows × <see cref="TeacherClassCount"/></c>; empty when there are none.</param>
    /// <param name="labels">Hard labels, one per row (its length defines the rows).</param>
    /// <param name="classCount">The number of classes (student logits per row).</param>
    /// <param name="step">The optimisation step (for schedules).</param>
    /// <param name="totalSteps">The total number of steps (for schedules).</param>
    /// <param name="normalizer">What summed per-row losses are divided by; null means the rows of this batch that count (all,
    /// or the true entries of <see cref="Mask"/>). Under gradient accumulation pass the rows of the whole accumulated batch,
    /// so the accumulated gradient equals the large-batch one.</param>
    public LossInputs(ReadOnlySpan<float> studentLogits, ReadOnlySpan<float> teacherLogits, ReadOnlySpan<int> labels, int classCount, long step, long totalSteps, float? normalizer = null)
    {
        StudentLogits = studentLogits;
        TeacherLogits = teacherLogits;
        Labels = labels;
        ClassCount = classCount;
        Step = step;
        TotalSteps = totalSteps;
        Normalizer = normalizer;
    }

    /// <summary>Student logits.</summary>
    public ReadOnlySpan<float> StudentLogits { get; }

    /// <summary>Dense teacher logits (empty without them).</summary>
    public ReadOnlySpan<float> TeacherLogits { get; }

    /// <summary>Hard labels.</summary>
    public ReadOnlySpan<int> Labels { get; }

    /// <summary>The number of classes of the student's logits.</summary>
    public int ClassCount { get; }

    /// <summary>
    /// Columns per row of <see cref="TeacherLogits"/> when they differ from <see cref="ClassCount"/> (a language-model teacher
    /// whose output layer has padded rows, or another tokenizer): only losses built for it accept that. 0 means equal.
    /// </summary>
    public int TeacherClassCount
    {
        get => _teacherClassCount == 0 ? ClassCount : _teacherClassCount;
        init => _teacherClassCount = value;
    }

    private readonly int _teacherClassCount;

    /// <summary>The optimisation step.</summary>
    public long Step { get; }

    /// <summary>The total number of steps.</summary>
    public long TotalSteps { get; }

    /// <summary>The normalizer, or null for the rows of this batch that count.</summary>
    public float? Normalizer { get; }

    /// <summary>Which rows count, one entry per row (false: padding, prompt tokens); empty means every row counts.</summary>
    public ReadOnlySpan<bool> Mask { get; init; }

    /// <summary>The number of rows.</summary>
    public int Rows => Labels.Length;

    /// <summary>True when dense teacher logits are present.</summary>
    public bool HasDenseTeacher => !TeacherLogits.IsEmpty;

    /// <summary>Sparse teacher targets instead of dense logits: class indices, <c>rows × <see cref="TeacherTopK"/></c>, each row by descending value.</summary>
    public ReadOnlySpan<int> TeacherTopKIndices { get; init; }

    /// <summary>Sparse teacher values (logits or log-probabilities, see <see cref="TeacherTopKValueKind"/>), <c>rows × <see cref="TeacherTopK"/></c>.</summary>
    public ReadOnlySpan<float> TeacherTopKValues { get; init; }

    /// <summary>Entries per row of the sparse teacher targets; 0 when there are none.</summary>
    public int TeacherTopK { get; init; }

    /// <summary>Whether <see cref="TeacherTopKValues"/> are logits or log-probabilities.</summary>
    public TopKValueKind TeacherTopKValueKind { get; init; }

    /// <summary>True when sparse top-k teacher targets are present.</summary>
    public bool HasTopKTeacher => TeacherTopK > 0;

    /// <summary>The forms of teacher targets present.</summary>
    public TeacherTargetKinds TeacherKinds =>
        (HasDenseTeacher ? TeacherTargetKinds.DenseLogits : TeacherTargetKinds.None) | (HasTopKTeacher ? TeacherTargetKinds.TopK : TeacherTargetKinds.None);

    /// <summary>True when <see cref="Mask"/> excludes at least one row.</summary>
    public bool HasPartialMask => !Mask.IsEmpty && Mask.Contains(false);
}
