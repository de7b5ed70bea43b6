namespace KnowledgeDistillation.Schedules;

/// <summary>The same value at every step.</summary>
public sealed class ConstantSchedule : ISchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is NaN or infinite.</exception>
    public ConstantSchedule(float value)
    {
        Schedule.RequireFinite(value, nameof(value));
        Value = value;
    }

    /// <summary>The value.</summary>
    public float Value { get; }

    /// <inheritdoc />
    public float ValueAt(long step, long totalSteps)
    {
        _ = Schedule.Progress(step, totalSteps);
        return Value;
    }

    /// <inheritdoc />
    public override string ToString() => $"constant({Value})";
}
