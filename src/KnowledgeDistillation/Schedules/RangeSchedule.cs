namespace KnowledgeDistillation.Schedules;

/// <summary>A schedule that moves from <see cref="Start"/> (step 0) to <see cref="End"/> (last step) along a shape given by <see cref="Shape"/>.</summary>
public abstract class RangeSchedule : ISchedule
{
    /// <summary>Validates and stores the ends.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An end is NaN or infinite.</exception>
    protected RangeSchedule(float start, float end)
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
    public float ValueAt(long step, long totalSteps) => (float)(End + ((Start - End) * (1 - Shape(Schedule.Progress(step, totalSteps)))));

    /// <summary>How far from <see cref="Start"/> towards <see cref="End"/> the value is at progress <paramref name="progress"/> ∈ [0, 1] (0 → Start, 1 → End).</summary>
    protected abstract double Shape(double progress);
}
