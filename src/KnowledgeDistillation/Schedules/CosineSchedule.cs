namespace KnowledgeDistillation.Schedules;

/// <summary>Half-cosine from <see cref="Start"/> to <see cref="End"/>: flat at both ends, fastest in the middle.</summary>
public sealed class CosineSchedule : ISchedule
{
    /// <summary>Creates the schedule.</summary>
    public CosineSchedule(float start, float end)
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
    public float ValueAt(long step, long totalSteps)
    {
        double p = Schedule.Progress(step, totalSteps);
        return (float)(End + ((Start - End) * 0.5 * (1 + Math.Cos(Math.PI * p))));
    }

    /// <inheritdoc />
    public override string ToString() => $"cosine({Start}→{End})";
}
