using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Schedules;

namespace KnowledgeDistillation.Losses;

/// <summary>
/// Hinton et al. (2015) knowledge distillation: <c>α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1−α)·CE(y, softmax(s))</c>,
/// with α and T following schedules, computed by one fused kernel call. Terms reported: <c>kd</c> (the T²-scaled KL),
/// <c>ce</c> (cross-entropy with the hard labels); parameters <c>alpha</c> and <c>temperature</c> (the scheduled values used).
/// </summary>
public sealed class HintonDistillationLoss : IDistillationLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="alpha">The weight of the distillation term, in [0, 1] at every step.</param>
    /// <param name="temperature">The temperature, &gt; 0 at every step.</param>
    public HintonDistillationLoss(ISchedule alpha, ISchedule temperature)
    {
        Alpha = alpha ?? throw new ArgumentNullException(nameof(alpha));
        Temperature = temperature ?? throw new ArgumentNullException(nameof(temperature));
    }

    /// <summary>Creates the loss with constant α and T.</summary>
    public HintonDistillationLoss(float alpha, float temperature)
        : this(Schedule.Constant(alpha), Schedule.Constant(temperature))
    {
        LossGuards.Alpha(alpha, nameof(alpha));
        LossGuards.Temperature(temperature, nameof(temperature));
    }

    /// <summary>The α schedule.</summary>
    public ISchedule Alpha { get; }

    /// <summary>The temperature schedule.</summary>
    public ISchedule Temperature { get; }

    /// <inheritdoc />
    public string Name => "hinton";

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
        float alpha = LossGuards.Alpha(Alpha.ValueAt(inputs.Step, inputs.TotalSteps), "alpha schedule");
        float t = LossGuards.Temperature(Temperature.ValueAt(inputs.Step, inputs.TotalSteps), "temperature schedule");
        HintonLossValue v = DistillationPrimitives.HintonLossWithGradient(
            inputs.StudentLogits, inputs.TeacherLogits, inputs.Labels, inputs.ClassCount, t, alpha, studentGradient, new KernelOptions { Normalizer = inputs.Normalizer });
        return new LossValue(
            v.Total,
            new Dictionary<string, float> { ["kd"] = v.Distillation, ["ce"] = v.HardLabel },
            new Dictionary<string, float> { ["alpha"] = alpha, ["temperature"] = t });
    }
}
