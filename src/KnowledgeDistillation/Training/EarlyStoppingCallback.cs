namespace KnowledgeDistillation.Training;

/// <summary>Stops training when a metric has not improved by at least <see cref="MinDelta"/> for <see cref="Patience"/> epochs.</summary>
public sealed class EarlyStoppingCallback : IDistillationCallback
{
    private double _best;
    private int _badEpochs;

    /// <summary>Creates the callback.</summary>
    /// <param name="metric">The metric name in <see cref="EpochSummary.Metrics"/> or <see cref="EpochSummary.TrainLoss"/> (for example <c>val_accuracy</c>).</param>
    /// <param name="patience">Epochs without improvement tolerated; at least 1.</param>
    /// <param name="minDelta">The smallest change that counts as an improvement; non-negative.</param>
    /// <param name="higherIsBetter">True for accuracies, false for losses.</param>
    public EarlyStoppingCallback(string metric, int patience = 3, double minDelta = 0, bool higherIsBetter = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(metric);
        ArgumentOutOfRangeException.ThrowIfLessThan(patience, 1);
        if (!(minDelta >= 0) || !double.IsFinite(minDelta))
        {
            throw new ArgumentOutOfRangeException(nameof(minDelta), minDelta, "minDelta must be a finite, non-negative number.");
        }
        Metric = metric;
        Patience = patience;
        MinDelta = minDelta;
        HigherIsBetter = higherIsBetter;
        _best = higherIsBetter ? double.NegativeInfinity : double.PositiveInfinity;
    }

    /// <summary>The watched metric.</summary>
    public string Metric { get; }

    /// <summary>Epochs without improvement before stopping.</summary>
    public int Patience { get; }

    /// <summary>The minimum improvement.</summary>
    public double MinDelta { get; }

    /// <summary>Whether higher values are better.</summary>
    public bool HigherIsBetter { get; }

    /// <summary>The best value seen.</summary>
    public double Best => _best;

    /// <inheritdoc />
    public void OnEpochCompleted(EpochSummary epoch, ITrainingControl control)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        ArgumentNullException.ThrowIfNull(control);
        if (!epoch.Metrics.TryGetValue(Metric, out double value) && !epoch.TrainLoss.TryGetValue(Metric, out value))
        {
            throw new InvalidOperationException(
                $"Early stopping watches '{Metric}', which epoch {epoch.Epoch} did not report. Reported: {string.Join(", ", epoch.Metrics.Keys.Concat(epoch.TrainLoss.Keys))}.");
        }
        bool improved = HigherIsBetter ? value > _best + MinDelta : value < _best - MinDelta;
        if (improved)
        {
            _best = value;
            _badEpochs = 0;
            return;
        }
        if (++_badEpochs >= Patience)
        {
            control.RequestStop($"early stopping: {Metric} did not improve by more than {MinDelta} for {Patience} epoch(s) (best {_best:G6})");
        }
    }
}
