namespace KnowledgeDistillation.Abstractions;

/// <summary>
/// A trainable model that learns from a teacher. Training itself is backend-specific (for example the TorchSharp
/// trainer); this interface covers what is common: inference, size, and persistence of the weights.
/// </summary>
public interface IStudent : IDisposable
{
    /// <summary>What the student is.</summary>
    ModelMetadata Metadata { get; }

    /// <summary>Runs the student in evaluation mode (no gradients) on a batch.</summary>
    /// <exception cref="ArgumentException">The input shape does not fit the model, or an intermediate name is unknown.</exception>
    ValueTask<ModelOutput> PredictAsync(Float32Tensor inputs, IReadOnlyCollection<string>? intermediates = null, CancellationToken cancellationToken = default);

    /// <summary>Writes the weights to a stream.</summary>
    void SaveWeights(Stream destination);

    /// <summary>Replaces the weights with ones written by <see cref="SaveWeights"/> for the same architecture.</summary>
    /// <exception cref="InvalidDataException">The stream does not hold weights of this architecture.</exception>
    void LoadWeights(Stream source);

    /// <summary>Returns a backend object of the requested type (for example the TorchSharp module), or null.</summary>
    object? GetService(Type serviceType, object? serviceKey = null);
}
