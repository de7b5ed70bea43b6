namespace KnowledgeDistillation.Training;

/// <summary>Hooks at training boundaries. Every method has an empty default, so implement only what you need.</summary>
public interface IDistillationCallback
{
    /// <summary>Called once before the first epoch of this process (after resuming, if any).</summary>
    void OnTrainingStarted(int startEpoch, int epochs, ITrainingControl control)
    {
    }

    /// <summary>Called after each optimisation step with the step's loss terms.</summary>
    void OnStepCompleted(long step, IReadOnlyDictionary<string, float> loss, ITrainingControl control)
    {
    }

    /// <summary>Called after each epoch, once its evaluation is done.</summary>
    void OnEpochCompleted(EpochSummary epoch, ITrainingControl control)
    {
    }

    /// <summary>Called once when training ends (normally, stopped early, or cancelled).</summary>
    void OnTrainingCompleted(DistillationHistory history)
    {
    }
}
