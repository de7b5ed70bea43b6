namespace KnowledgeDistillation.Abstractions;

/// <summary>
/// A trainable model: what a trainer trains (the TorchSharp trainer takes one whose backend it knows), and, once trained,
/// a teacher like any other (<see cref="ITeacher"/>): a model trained here can teach the next one. Adds persistence of the
/// weights to inference.
/// </summary>
public interface IStudent : ITeacher
{
    /// <summary>Writes the weights to a stream.</summary>
    void SaveWeights(Stream destination);

    /// <summary>Replaces the weights with ones written by <see cref="SaveWeights"/> for the same architecture.</summary>
    /// <exception cref="InvalidDataException">The stream does not hold weights of this architecture; the model keeps its previous weights.</exception>
    void LoadWeights(Stream source);
}
