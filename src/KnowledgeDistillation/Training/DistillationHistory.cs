namespace KnowledgeDistillation.Training;

/// <summary>The record of a training run: one summary per epoch, why it stopped, and timings.</summary>
public sealed class DistillationHistory
{
    private readonly List<EpochSummary> _epochs = [];

    /// <summary>The completed epochs, in order (a resumed run includes those done before the interruption).</summary>
    public IReadOnlyList<EpochSummary> Epochs => _epochs;

    /// <summary>Why training stopped before its last epoch (early stopping, budget), or null when it ran to the end.</summary>
    public string? StopReason { get; set; }

    /// <summary>The epoch the run resumed from (0 for a fresh run).</summary>
    public int ResumedFromEpoch { get; set; }

    /// <summary>Total wall time of this process's part of the run.</summary>
    public TimeSpan Duration { get; set; }

    /// <summary>Appends an epoch.</summary>
    public void Add(EpochSummary epoch)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        _epochs.Add(epoch);
    }

    /// <summary>The last epoch's value of a metric, or null when absent.</summary>
    public double? LastMetric(string name) =>
        _epochs.Count > 0 && _epochs[^1].Metrics.TryGetValue(name, out double v) ? v : null;
}
