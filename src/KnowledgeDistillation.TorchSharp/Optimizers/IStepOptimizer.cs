namespace KnowledgeDistillation.TorchSharp.Optimizers;

/// <summary>An optimizer driven by the trainer: the learning rate is passed at every step (schedules live outside).</summary>
public interface IStepOptimizer : IDisposable
{
    /// <summary>A short name stored in checkpoints (for example <c>AdamW</c>).</summary>
    string Name { get; }

    /// <summary>Applies one update with learning rate <paramref name="learningRate"/> from the parameters' gradients.</summary>
    void Step(double learningRate);

    /// <summary>Zeroes the parameters' gradients.</summary>
    void ZeroGrad();

    /// <summary>Writes the optimizer state.</summary>
    void SaveState(BinaryWriter writer);

    /// <summary>Reads state written by <see cref="SaveState"/> for the same parameters.</summary>
    /// <exception cref="InvalidDataException">The state is for another optimizer or other parameter shapes.</exception>
    void LoadState(BinaryReader reader);
}
