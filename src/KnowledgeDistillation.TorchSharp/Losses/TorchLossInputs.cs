using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Kernels;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Losses;

/// <summary>The inputs of the TorchSharp form of a logit loss: the tensors of <see cref="KnowledgeDistillation.Losses.LossInputs"/>, on the student's device.</summary>
/// <param name="StudentLogits">Student logit rows <c>[rows, classes]</c> (part of the autograd graph).</param>
/// <param name="Labels">Hard labels <c>[rows]</c>, int64.</param>
/// <param name="Mask">Which rows count, bool <c>[rows]</c>; null when all do.</param>
/// <param name="Step">The optimisation step (for schedules).</param>
/// <param name="TotalSteps">The total number of steps.</param>
/// <param name="Normalizer">What summed per-row losses are divided by (the counting rows of the whole accumulated batch).</param>
public readonly record struct TorchLossInputs(Tensor StudentLogits, Tensor Labels, Tensor? Mask, long Step, long TotalSteps, float Normalizer)
{
    /// <summary>Dense teacher logit rows <c>[rows, teacher classes]</c>, or null.</summary>
    public Tensor? TeacherLogits { get; init; }

    /// <summary>Top-k teacher class indices <c>[rows, k]</c> (int64), or null.</summary>
    public Tensor? TeacherTopKIndices { get; init; }

    /// <summary>Top-k teacher values <c>[rows, k]</c>, or null.</summary>
    public Tensor? TeacherTopKValues { get; init; }

    /// <summary>What <see cref="TeacherTopKValues"/> are.</summary>
    public TopKValueKind TeacherTopKValueKind { get; init; }

    /// <summary>The classes of the student's rows.</summary>
    public int ClassCount => (int)StudentLogits.shape[1];

    /// <summary>The teacher target forms present.</summary>
    public TeacherTargetKinds TeacherKinds =>
        (TeacherLogits is null ? TeacherTargetKinds.None : TeacherTargetKinds.DenseLogits) | (TeacherTopKIndices is null ? TeacherTargetKinds.None : TeacherTargetKinds.TopK);
}
