using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;

namespace KnowledgeDistillation.TorchSharp.Teachers;

/// <summary>
/// The one way the trainer gets what a teacher says about a batch: dense logits, a sparse top-k list, and named
/// intermediate features. Adapters cover every teacher kind — a TorchSharp model on the device
/// (<see cref="TeacherSignal.FromModel{TBatch}"/>), any <see cref="ITeacher"/> such as ONNX or an ensemble
/// (<see cref="TeacherSignal.FromTeacher"/>), precomputed targets such as a teacher cache
/// (<see cref="TeacherSignal.FromTargets{TBatch}"/>) — and a new kind of teacher is one new implementation. The trainer never
/// looks at what is behind a signal.
/// </summary>
/// <typeparam name="TBatch">The batch type of the student it teaches.</typeparam>
/// <remarks>
/// A step is two calls: <see cref="FetchAsync"/>, awaited before the training step (it may do I/O or run a remote model),
/// and <see cref="TeacherStepTargets.Prepare"/>, called inside the step's TorchSharp dispose scope (where a model on the
/// device runs its forward pass, so its tensors live exactly as long as the step).
/// </remarks>
public interface ITeacherSignal<in TBatch>
{
    /// <summary>
    /// What the teacher is: its name, the classes (or vocabulary entries) of its output rows, what they mean
    /// (<see cref="ModelMetadata.Vocabulary"/>), and the intermediate features that can be requested by name
    /// (<see cref="ModelMetadata.IntermediateNames"/>; none for precomputed targets, which hold logits only).
    /// </summary>
    ModelMetadata Metadata { get; }

    /// <summary>The target forms this signal gives (<see cref="TeacherTargetKinds.DenseLogits"/>, <see cref="TeacherTargetKinds.TopK"/>).</summary>
    TeacherTargetKinds Provides { get; }

    /// <summary>
    /// True for targets computed ahead of time for the rows of one data set (a cache, recorded answers): they cannot be
    /// asked about other data, so a trainer computes no teacher metrics on held-out data from them.
    /// </summary>
    bool IsPrecomputed { get; }

    /// <summary>Checks, before any training, that the signal fits <paramref name="data"/> (for a cache: computed on exactly this data set).</summary>
    /// <exception cref="ArgumentException">It does not fit the data's shape or classes; the message says what differs and what to do.</exception>
    /// <exception cref="InvalidOperationException">Precomputed targets were computed for other data (<see cref="ITeacherTargetSource{TBatch}.EnsureMatches"/>).</exception>
    void EnsureCompatible(IBatchSource<TBatch> data, string parameterName);

    /// <summary>Fetches the teacher's targets for one micro-batch, in the batch's row order.</summary>
    ValueTask<TeacherStepTargets> FetchAsync(TBatch batch, TeacherSignalRequest request, CancellationToken cancellationToken = default);
}
