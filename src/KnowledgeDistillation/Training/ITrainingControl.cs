namespace KnowledgeDistillation.Training;

/// <summary>What a callback may ask of the running trainer.</summary>
public interface ITrainingControl
{
    /// <summary>Asks the trainer to stop after the current epoch; <paramref name="reason"/> goes into the history.</summary>
    void RequestStop(string reason);

    /// <summary>Writes a checkpoint of the whole training state (student, optimizer, position) atomically to <paramref name="path"/>.</summary>
    void SaveCheckpoint(string path);

    /// <summary>The total number of optimisation steps planned.</summary>
    long TotalSteps { get; }
}
