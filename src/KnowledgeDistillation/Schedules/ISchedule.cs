namespace KnowledgeDistillation.Schedules;

/// <summary>
/// A hyper-parameter (temperature, α, a loss weight) as a pure function of training progress, so that it is
/// trivially testable and resumable: the value depends on nothing but <c>(step, totalSteps)</c>.
/// </summary>
public interface ISchedule
{
    /// <summary>The value at <paramref name="step"/> of <paramref name="totalSteps"/> (steps count from 0).</summary>
    /// <param name="step">The current optimisation step, in [0, totalSteps]. Values past the end are clamped.</param>
    /// <param name="totalSteps">The number of steps of the whole run; at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="totalSteps"/> is less than 1 or <paramref name="step"/> is negative.</exception>
    float ValueAt(long step, long totalSteps);
}
