namespace KnowledgeDistillation.Schedules;

/// <summary>1 − the inner schedule (see <see cref="Schedule.OneMinus"/>).</summary>
internal sealed class OneMinusSchedule(ISchedule inner) : ISchedule
{
    public float ValueAt(long step, long totalSteps) => 1 - inner.ValueAt(step, totalSteps);
}
