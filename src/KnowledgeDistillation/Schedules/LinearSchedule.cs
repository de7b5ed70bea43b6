namespace KnowledgeDistillation.Schedules;

/// <summary>Straight line from <see cref="Start"/> (step 0) to <see cref="End"/> (last step).</summary>
public sealed class LinearSchedule : ISchedule
{
    /// <summary>Creates the schedule.</summary>
    public LinearSchedule(float start, float end)
    {
        Schedule.RequireFinite(start, nameof(start));
        Schedule.RequireFinite(end, nameof(end));
        Start = start;
        End = end;
    }

    /// <summary>The value at step 0.</summary>
    public float Start { get; }

    /// <summary>The value at the last step.</summary>
    public float End { get; }

    /// <inheritdoc />
    public float ValueAt(long step, long totalSteps) => Start + ((End - Start) * Schedule.Progress(step, totalSteps));

    /// <inheritdoc />
    public override string ToString() => $"linear({Start}→{End})";
}
