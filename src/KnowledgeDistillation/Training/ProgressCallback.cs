using System.Globalization;
using Microsoft.Extensions.Logging;

namespace KnowledgeDistillation.Training;

/// <summary>Reports progress to an <see cref="IProgress{T}"/> (every <see cref="ReportEverySteps"/> steps and every epoch) and logs each epoch.</summary>
public sealed partial class ProgressCallback : IDistillationCallback
{
    private readonly IProgress<TrainingProgress>? _progress;
    private readonly ILogger? _logger;
    private int _epoch;
    private int _epochs;

    /// <summary>Creates the callback; either sink may be null.</summary>
    public ProgressCallback(IProgress<TrainingProgress>? progress, ILogger? logger = null, int reportEverySteps = 50)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(reportEverySteps, 1);
        _progress = progress;
        _logger = logger;
        ReportEverySteps = reportEverySteps;
    }

    /// <summary>Steps between step reports.</summary>
    public int ReportEverySteps { get; }

    /// <inheritdoc />
    public void OnTrainingStarted(int startEpoch, int epochs, ITrainingControl control)
    {
        _epoch = startEpoch;
        _epochs = epochs;
    }

    /// <inheritdoc />
    public void OnStepCompleted(long step, IReadOnlyDictionary<string, float> loss, ITrainingControl control)
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(control);
        if (step % ReportEverySteps == 0)
        {
            _progress?.Report(new TrainingProgress(_epoch, _epochs, step, control.TotalSteps, loss.GetValueOrDefault("total"), null) { Terms = loss });
        }
    }

    /// <inheritdoc />
    public void OnEpochCompleted(EpochSummary epoch, ITrainingControl control)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        ArgumentNullException.ThrowIfNull(control);
        _epoch = epoch.Epoch + 1;
        _progress?.Report(new TrainingProgress(epoch.Epoch, _epochs, epoch.Step, control.TotalSteps, epoch.TrainLoss.GetValueOrDefault("total"), epoch));
        if (_logger is not null)
        {
            string metrics = string.Join(" ", epoch.TrainLoss.Concat(epoch.Metrics).Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}={kv.Value:G5}")));
            LogEpoch(_logger, epoch.Epoch + 1, _epochs, metrics, epoch.Duration.TotalSeconds);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "epoch {Epoch}/{Epochs}: {Metrics} ({Seconds:F1} s)")]
    private static partial void LogEpoch(ILogger logger, int epoch, int epochs, string metrics, double seconds);
}
