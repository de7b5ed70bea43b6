namespace KnowledgeDistillation.Schedules;

/// <summary>Geometric interpolation <c>start·(end/start)^progress</c>: equal ratios per step. Both ends must be positive.</summary>
public sealed class ExponentialSchedule : ISchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An end is not positive and finite.</exception>
    public ExponentialSchedule(float start, float end)
    {
        if (!(start > 0) || !float.IsFinite(start))
        {
            throw new ArgumentOutOfRangeException(nameof(start), start, "An exponential schedule needs a positive, finite start value.");
        }
        if (!(end > 0) || !float.IsFinite(end))
        {
            throw new ArgumentOutOfRangeException(nameof(end), end, "An exponential schedule needs a positive, finite end value.");
        }
        Start = start;
        End = end;
    }

    /// <summary>The value at step 0.</summary>
    public float Start { get; }

    /// <summary>The value at the last step.</summary>
    public float End { get; }

    /// <inheritdoc />
    public float ValueAt(long step, long totalSteps) =>
        (float)(Start * Math.Pow(End / (double)Start, Schedule.Progress(step, totalSteps)));

    /// <inheritdoc />
    public override string ToString() => $"exp({Start}→{End})";
}
