using System.Diagnostics;

namespace KnowledgeDistillation.Training;

/// <summary>Stops training at the first epoch boundary after a wall-time or step budget is spent.</summary>
public sealed class TrainingBudgetCallback : IDistillationCallback
{
    private readonly Stopwatch _clock = new();

    /// <summary>Creates the callback; at least one limit must be given.</summary>
    public TrainingBudgetCallback(TimeSpan? maxDuration = null, long? maxSteps = null)
    {
        if (maxDuration is null && maxSteps is null)
        {
            throw new ArgumentException("Give a time budget, a step budget, or both.", nameof(maxDuration));
        }
        if (maxDuration is { } d && d <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDuration), d, "The time budget must be positive.");
        }
        if (maxSteps is { } s && s < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxSteps), s, "The step budget must be at least 1.");
        }
        MaxDuration = maxDuration;
        MaxSteps = maxSteps;
    }

    /// <summary>The time budget.</summary>
    public TimeSpan? MaxDuration { get; }

    /// <summary>The step budget.</summary>
    public long? MaxSteps { get; }

    /// <inheritdoc />
    public void OnTrainingStarted(int startEpoch, int epochs, ITrainingControl control) => _clock.Restart();

    /// <inheritdoc />
    public void OnEpochCompleted(EpochSummary epoch, ITrainingControl control)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        ArgumentNullException.ThrowIfNull(control);
        if (MaxDuration is { } d && _clock.Elapsed >= d)
        {
            control.RequestStop($"time budget of {d} spent after epoch {epoch.Epoch + 1}");
        }
        else if (MaxSteps is { } s && epoch.Step >= s)
        {
            control.RequestStop($"step budget of {s} spent after epoch {epoch.Epoch + 1}");
        }
    }
}
