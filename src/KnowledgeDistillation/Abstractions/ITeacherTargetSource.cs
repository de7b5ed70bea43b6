using KnowledgeDistillation.Data;

namespace KnowledgeDistillation.Abstractions;

/// <summary>
/// Provides the teacher's targets for a batch by the batch's sample indices (<see cref="Batch.Indices"/>) instead of
/// running a teacher: an offline teacher cache (<see cref="Caching.TeacherCache"/>) is the standard implementation.
/// Trainers take one in place of an <see cref="ITeacher"/>.
/// </summary>
public interface ITeacherTargetSource
{
    /// <summary>Identifies the teacher whose outputs these are.</summary>
    string TeacherId { get; }

    /// <summary>Classes of the teacher's output.</summary>
    int ClassCount { get; }

    /// <summary>True when targets are sparse top-k lists (a loss must accept them), false for dense logits.</summary>
    bool IsTopK { get; }

    /// <summary>Checks that the targets were produced for exactly this data set, before any training.</summary>
    /// <exception cref="InvalidOperationException">They were not (the message says what differs and what to do).</exception>
    void EnsureMatches(IBatchSource data);

    /// <summary>Returns the targets of the batch's rows, in the batch's row order.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside the data set.</exception>
    ValueTask<TeacherTargets> GetTargetsAsync(Batch batch, CancellationToken cancellationToken = default);
}
