namespace KnowledgeDistillation.Training;

/// <summary>A progress report: where training is and how it is going.</summary>
/// <param name="Epoch">The current epoch (0-based).</param>
/// <param name="Epochs">The planned number of epochs.</param>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps planned.</param>
/// <param name="Loss">The latest loss (total).</param>
/// <param name="Summary">The epoch summary when an epoch just ended; null for step reports.</param>
public sealed record TrainingProgress(int Epoch, int Epochs, long Step, long TotalSteps, double Loss, EpochSummary? Summary)
{
    /// <summary>For step reports, each loss term of the step (for example <c>kd</c>, <c>ce</c>); empty for epoch reports. <value>The default value is empty.</value></summary>
    public IReadOnlyDictionary<string, float> Terms { get; init; } = new Dictionary<string, float>();
}
