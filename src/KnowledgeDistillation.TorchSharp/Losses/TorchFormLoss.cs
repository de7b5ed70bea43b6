using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Losses;

namespace KnowledgeDistillation.TorchSharp.Losses;

/// <summary>A library loss with both forms: the fused-kernel form is the core loss it wraps, the TorchSharp form is its own.</summary>
internal abstract class TorchFormLoss(IDistillationLoss kernelForm) : ITorchLogitLoss
{
    /// <summary>The fused-kernel form (the core loss, whose hyper-parameters the TorchSharp form reads).</summary>
    public IDistillationLoss KernelForm => kernelForm;

    public string Name => kernelForm.Name;

    public TeacherTargetKinds AcceptedTargets => kernelForm.AcceptedTargets;

    public bool AcceptsTeacher(ModelMetadata student, ModelMetadata teacher) => kernelForm.AcceptsTeacher(student, teacher);

    public LossValue Compute(in LossInputs inputs, Span<float> studentGradient) => kernelForm.Compute(inputs, studentGradient);

    public virtual string? TorchOperationsUnavailableReason => null;

    public abstract TorchLossValue ComputeOnDevice(in TorchLossInputs inputs);

    public override string ToString() => $"{Name} (fused kernels and TorchSharp operations)";
}
