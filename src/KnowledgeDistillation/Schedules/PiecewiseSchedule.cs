namespace KnowledgeDistillation.Schedules;

/// <summary>
/// Piecewise-constant values over equal parts of the run. With one value per epoch it is a per-epoch curriculum:
/// <c>new PiecewiseSchedule(2, 1.5f, 1, 0.5f)</c> over 4 epochs of 100 steps gives 2 for steps 0–99, 1.5 for 100–199, …
/// </summary>
public sealed class PiecewiseSchedule : ISchedule
{
    private readonly float[] _values;

    /// <summary>Creates the schedule.</summary>
    /// <exception cref="ArgumentException">No values were given, or one is not finite.</exception>
    public PiecewiseSchedule(params float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length == 0)
        {
            throw new ArgumentException("A piecewise schedule needs at least one value.", nameof(values));
        }
        for (int i = 0; i < values.Length; i++)
        {
            Schedule.RequireFinite(values[i], $"values[{i}]");
        }
        _values = (float[])values.Clone();
    }

    /// <summary>The values, in order.</summary>
    public IReadOnlyList<float> Values => _values;

    /// <inheritdoc />
    public float ValueAt(long step, long totalSteps)
    {
        _ = Schedule.Progress(step, totalSteps);
        long index = Math.Min(step, totalSteps - 1) * _values.Length / totalSteps;
        return _values[index];
    }

    /// <inheritdoc />
    public override string ToString() => $"step({string.Join(", ", _values)})";
}
