using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Schedules;

namespace KnowledgeDistillation.Losses;

/// <summary>
/// Decoupled KD (Zhao et al. 2022): <c>α·TCKD + β·NCKD</c>, T²-scaled, from the fused kernel. The paper pairs it with the
/// hard-label loss (weight 1), α = 1, β = 8 for CIFAR-100 and T = 4. Term: <c>dkd</c>; parameter <c>temperature</c>.
/// </summary>
public sealed class DecoupledKdLoss : IDistillationLoss
{
    /// <summary>Creates the loss.</summary>
    public DecoupledKdLoss(float alpha = 1f, float beta = 8f, ISchedule? temperature = null)
    {
        if (!(alpha >= 0) || !float.IsFinite(alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "DKD α (the TCKD weight) must be finite and non-negative.");
        }
        if (!(beta >= 0) || !float.IsFinite(beta))
        {
            throw new ArgumentOutOfRangeException(nameof(beta), beta, "DKD β (the NCKD weight) must be finite and non-negative.");
        }
        Alpha = alpha;
        Beta = beta;
        Temperature = temperature ?? Schedule.Constant(4);
    }

    /// <summary>Weight of the target/non-target binary term.</summary>
    public float Alpha { get; }

    /// <summary>Weight of the non-target term.</summary>
    public float Beta { get; }

    /// <summary>The temperature schedule.</summary>
    public ISchedule Temperature { get; }

    /// <inheritdoc />
    public string Name => "dkd";

    /// <inheritdoc />
    public TeacherTargetKinds AcceptedTargets => TeacherTargetKinds.DenseLogits;

    /// <inheritdoc />
    public LossValue Compute(in LossInputs inputs, Span<float> studentGradient)
    {
        if (inputs.HasPartialMask)
        {
            return MaskedRows.Compute(this, inputs, studentGradient);
        }
        LossGuards.RequireDenseTeacher(inputs, Name);
        float t = LossGuards.Temperature(Temperature.ValueAt(inputs.Step, inputs.TotalSteps), "temperature schedule");
        float value = DistillationPrimitives.DecoupledKdWithGradient(
            inputs.StudentLogits, inputs.TeacherLogits, inputs.Labels, inputs.ClassCount, t, Alpha, Beta, studentGradient,
            new KernelOptions { Normalizer = inputs.Normalizer });
        return new LossValue(value, new Dictionary<string, float> { ["dkd"] = value }, new Dictionary<string, float> { ["temperature"] = t });
    }
}
