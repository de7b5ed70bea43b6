namespace KnowledgeDistillation.Schedules;

/// <summary>Straight line from <see cref="RangeSchedule.Start"/> (step 0) to <see cref="RangeSchedule.End"/> (last step).</summary>
public sealed class LinearSchedule(float start, float end) : RangeSchedule(start, end)
{
    /// <inheritdoc />
    protected override double Shape(double progress) => progress;

    /// <inheritdoc />
    public override string ToString() => $"linear({Start}→{End})";
}
