using KnowledgeDistillation.Data;

namespace KnowledgeDistillation.Abstractions;

/// <summary>
/// Precomputed teacher targets looked up by the rows of a batch instead of running a teacher: an offline teacher cache
/// (<see cref="Caching.TeacherCache"/>, keyed by <see cref="Batch.Indices"/>) today, recorded answers of an API teacher next.
/// Trainers take one through their teacher-signal adapter for precomputed targets.
/// </summary>
/// <typeparam name="TBatch">The batch type whose rows the targets belong to.</typeparam>
public interface ITeacherTargetSource<in TBatch>
{
    /// <summary>Identifies the teacher whose outputs these are.</summary>
    string TeacherId { get; }

    /// <summary>Classes (or vocabulary entries) of the teacher's output.</summary>
    int ClassCount { get; }

    /// <summary>The form of the targets: <see cref="TeacherTargetKinds.DenseLogits"/> or <see cref="TeacherTargetKinds.TopK"/>.</summary>
    TeacherTargetKinds Provides { get; }

    /// <summary>Checks that the targets were produced for exactly this data set, before any training.</summary>
    /// <exception cref="InvalidOperationException">They were not (the message says what differs and what to do).</exception>
    void EnsureMatches(IBatchSource<TBatch> data);

    /// <summary>Returns the targets of the batch's rows, in the batch's row order.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside the data set.</exception>
    ValueTask<TeacherTargets> GetTargetsAsync(TBatch batch, CancellationToken cancellationToken = default);
}
