using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Schedules;

namespace KnowledgeDistillation.Losses;

/// <summary>
/// A teacher–student divergence on temperature-softened distributions, from the fused kernels: forward KL (Hinton's
/// term), reverse KL, generalised JSD(β) or soft-target cross-entropy, scaled by T² by default (so gradient magnitudes do
/// not shrink as T grows). Combine it with <see cref="HardLabelLoss"/> in a <see cref="CompositeDistillationLoss"/>.
/// Term: <c>{Name}</c> (the value); parameter <c>temperature</c>.
/// </summary>
public sealed class SoftTargetLoss : IDistillationLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="kind">The divergence.</param>
    /// <param name="temperature">The temperature schedule (values &gt; 0).</param>
    /// <param name="jsdBeta">β of JSD in [0, 1] (0 = forward KL, 1 = reverse KL); ignored by the other kinds.</param>
    /// <param name="scaleByTemperatureSquared">Multiply by T² (Hinton et al.).</param>
    public SoftTargetLoss(DivergenceKind kind, ISchedule temperature, float jsdBeta = 0.5f, bool scaleByTemperatureSquared = true)
    {
        Temperature = temperature ?? throw new ArgumentNullException(nameof(temperature));
        if (!(jsdBeta >= 0 && jsdBeta <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(jsdBeta), jsdBeta, "JSD β must be in [0, 1] (0 is forward KL, 1 reverse KL).");
        }
        Kind = kind;
        JsdBeta = jsdBeta;
        ScaleByTemperatureSquared = scaleByTemperatureSquared;
    }

    /// <summary>The divergence.</summary>
    public DivergenceKind Kind { get; }

    /// <summary>The temperature schedule.</summary>
    public ISchedule Temperature { get; }

    /// <summary>β of JSD.</summary>
    public float JsdBeta { get; }

    /// <summary>Whether the loss is multiplied by T².</summary>
    public bool ScaleByTemperatureSquared { get; }

    /// <inheritdoc />
    public string Name => Kind switch
    {
        DivergenceKind.ForwardKl => "forward_kl",
        DivergenceKind.ReverseKl => "reverse_kl",
        DivergenceKind.JensenShannon => "jsd",
        _ => "soft_ce",
    };

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
        var options = new KernelOptions
        {
            Normalizer = inputs.Normalizer,
            ScaleByTemperatureSquared = ScaleByTemperatureSquared,
            JsdBeta = JsdBeta,
        };
        float value = DistillationPrimitives.DivergenceWithGradient(inputs.StudentLogits, inputs.TeacherLogits, inputs.ClassCount, t, Kind, studentGradient, options);
        return new LossValue(value, new Dictionary<string, float> { [Name] = value }, new Dictionary<string, float> { ["temperature"] = t });
    }
}
