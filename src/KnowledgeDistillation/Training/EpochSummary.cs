namespace KnowledgeDistillation.Training;

/// <summary>What happened in one epoch.</summary>
/// <param name="Epoch">The epoch index, from 0.</param>
/// <param name="Step">The optimisation steps done so far (after this epoch).</param>
/// <param name="TrainLoss">Mean of each loss term over the epoch's steps (keys as reported by the loss; <c>total</c> is the differentiated value).</param>
/// <param name="Metrics">Evaluation metrics at the end of the epoch (for example <c>val_accuracy</c>); empty without validation data.</param>
/// <param name="LearningRate">The learning rate at the last step of the epoch.</param>
/// <param name="Duration">Wall time of the epoch, evaluation included.</param>
/// <param name="SamplesPerSecond">Training throughput.</param>
public sealed record EpochSummary(
    int Epoch,
    long Step,
    IReadOnlyDictionary<string, double> TrainLoss,
    IReadOnlyDictionary<string, double> Metrics,
    double LearningRate,
    TimeSpan Duration,
    double SamplesPerSecond)
{
    /// <summary>Mean over the epoch's steps of each hyper-parameter the loss reported (<c>alpha</c>, <c>temperature</c>, term weights). <value>The default value is empty.</value></summary>
    public IReadOnlyDictionary<string, double> Parameters { get; init; } = new Dictionary<string, double>();
}
