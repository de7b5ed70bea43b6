using System.Diagnostics.Metrics;

namespace KnowledgeDistillation.Training;

/// <summary>
/// Publishes training telemetry through <see cref="System.Diagnostics.Metrics"/> (meter <c>KnowledgeDistillation</c>),
/// so OpenTelemetry or <c>dotnet-counters</c> can collect it: <c>kd.train.steps</c> (counter),
/// <c>kd.train.loss</c> (histogram, tag <c>term</c>), <c>kd.train.epoch.duration</c> (histogram, s),
/// <c>kd.eval.metric</c> (histogram, tag <c>metric</c>).
/// </summary>
public sealed class DistillationMetrics : IDistillationCallback, IDisposable
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "KnowledgeDistillation";

    private readonly Meter _meter;
    private readonly Counter<long> _steps;
    private readonly Histogram<double> _loss;
    private readonly Histogram<double> _epochDuration;
    private readonly Histogram<double> _evalMetric;

    /// <summary>Creates the instruments, through <paramref name="meterFactory"/> when given (the DI-friendly way).</summary>
    public DistillationMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _steps = _meter.CreateCounter<long>("kd.train.steps", "{step}", "Optimisation steps taken.");
        _loss = _meter.CreateHistogram<double>("kd.train.loss", null, "Per-step value of each loss term.");
        _epochDuration = _meter.CreateHistogram<double>("kd.train.epoch.duration", "s", "Wall time per epoch.");
        _evalMetric = _meter.CreateHistogram<double>("kd.eval.metric", null, "Evaluation metrics at the end of each epoch.");
    }

    /// <inheritdoc />
    public void OnStepCompleted(long step, IReadOnlyDictionary<string, float> loss, ITrainingControl control)
    {
        ArgumentNullException.ThrowIfNull(loss);
        _steps.Add(1);
        foreach ((string term, float value) in loss)
        {
            _loss.Record(value, new KeyValuePair<string, object?>("term", term));
        }
    }

    /// <inheritdoc />
    public void OnEpochCompleted(EpochSummary epoch, ITrainingControl control)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        _epochDuration.Record(epoch.Duration.TotalSeconds);
        foreach ((string metric, double value) in epoch.Metrics)
        {
            _evalMetric.Record(value, new KeyValuePair<string, object?>("metric", metric));
        }
    }

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();
}
