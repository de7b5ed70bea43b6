using KnowledgeDistillation.Abstractions;

namespace KnowledgeDistillation.Losses;

/// <summary>
/// A logit-level loss over rows of logits (images of a batch, or token positions of a language-model batch), computed
/// on the CPU with its gradient in the same call (fused kernels), so a trainer needs no autograd for it. Compose several
/// with <see cref="CompositeDistillationLoss"/>. A backend may offer a second form of the same loss that keeps tensors on
/// its device (the TorchSharp backend's <c>ITorchLogitLoss</c>); trainers ask for it by capability, never by type.
/// </summary>
/// <remarks>
/// Rows whose <see cref="LossInputs.Mask"/> entry is false (padding, prompt tokens) contribute neither loss nor gradient;
/// the losses of this package honour the mask, and so must new implementations (see <see cref="MaskedRows"/>).
/// </remarks>
public interface IDistillationLoss
{
    /// <summary>A short name used as the key of this loss in logs and histories (for example <c>hinton</c>).</summary>
    string Name { get; }

    /// <summary>
    /// The teacher targets this loss can learn from: <see cref="TeacherTargetKinds.DenseLogits"/>, <see cref="TeacherTargetKinds.TopK"/>,
    /// both, or <see cref="TeacherTargetKinds.None"/> for a loss that learns from the labels alone (and needs no teacher).
    /// </summary>
    TeacherTargetKinds AcceptedTargets { get; }

    /// <summary>
    /// Whether the loss can compare the outputs of <paramref name="teacher"/> with those of <paramref name="student"/>: by
    /// default when both have the same number of classes and, where both say, the same <see cref="ModelMetadata.Vocabulary"/>
    /// (a token-level loss with a vocabulary size or a token mapping accepts others). Trainers check it before training.
    /// </summary>
    /// <exception cref="ArgumentException">It cannot, when the implementation can say why better than a plain false.</exception>
    bool AcceptsTeacher(ModelMetadata student, ModelMetadata teacher) =>
        student is not null && teacher is not null && student.ClassCount == teacher.ClassCount
        && (student.Vocabulary is null || teacher.Vocabulary is null || student.Vocabulary == teacher.Vocabulary);

    /// <summary>Computes the loss and writes d(loss)/d(student logits) into <paramref name="studentGradient"/> (overwriting it).</summary>
    /// <exception cref="ArgumentException">Shapes do not agree, a label is out of range, or the teacher targets the loss needs are missing (the message names the loss and what it needs).</exception>
    LossValue Compute(in LossInputs inputs, Span<float> studentGradient);
}
