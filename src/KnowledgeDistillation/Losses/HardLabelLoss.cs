using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Losses;

/// <summary>Cross-entropy with the hard labels (the loss of a student trained without a teacher). Term: <c>ce</c>.</summary>
public sealed class HardLabelLoss : IDistillationLoss
{
    /// <inheritdoc />
    public string Name => "ce";

    /// <inheritdoc />
    public TeacherTargetKinds AcceptedTargets => TeacherTargetKinds.None;

    /// <inheritdoc />
    public LossValue Compute(in LossInputs inputs, Span<float> studentGradient)
    {
        if (inputs.HasPartialMask)
        {
            return MaskedRows.Compute(this, inputs, studentGradient);
        }
        // α = 0 turns the fused Hinton kernel into plain cross-entropy; the teacher argument is then unused.
        HintonLossValue v = DistillationPrimitives.HintonLossWithGradient(
            inputs.StudentLogits, inputs.StudentLogits, inputs.Labels, inputs.ClassCount, 1f, 0f, studentGradient, new KernelOptions { Normalizer = inputs.Normalizer });
        return new LossValue(v.HardLabel, new Dictionary<string, float> { ["ce"] = v.HardLabel });
    }
}
