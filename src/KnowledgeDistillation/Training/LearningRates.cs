namespace KnowledgeDistillation.Training;

/// <summary>The learning rate as a pure function of the step: linear warm-up, then constant, linear or cosine decay.</summary>
public static class LearningRates
{
    /// <summary>The learning rate at <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>.</summary>
    public static double At(long step, long totalSteps, double peak, double warmupFraction, LearningRateScheduleKind kind)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        long warmup = (long)Math.Round(warmupFraction * totalSteps);
        if (step < warmup)
        {
            return peak * (step + 1) / warmup;
        }
        double decaySteps = Math.Max(1, totalSteps - warmup);
        double p = Math.Min(1.0, (step - warmup) / decaySteps);
        return kind switch
        {
            LearningRateScheduleKind.Constant => peak,
            LearningRateScheduleKind.Linear => peak * (1 - p),
            _ => peak * 0.5 * (1 + Math.Cos(Math.PI * p)),
        };
    }
}
