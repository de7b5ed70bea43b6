namespace KnowledgeDistillation.Schedules;

/// <summary>Half-cosine from <see cref="RangeSchedule.Start"/> to <see cref="RangeSchedule.End"/>: flat at both ends, fastest in the middle.</summary>
public sealed class CosineSchedule(float start, float end) : RangeSchedule(start, end)
{
    /// <inheritdoc />
    protected override double Shape(double progress) => 0.5 * (1 - Math.Cos(Math.PI * progress));

    /// <inheritdoc />
    public override string ToString() => $"cosine({Start}→{End})";
}
