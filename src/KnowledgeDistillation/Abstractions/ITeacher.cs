namespace KnowledgeDistillation.Abstractions;

/// <summary>
/// A model used for inference only, whose outputs a student learns from: a TorchSharp module
/// (<c>TorchModel</c>), an ONNX Runtime session (<c>OnnxTeacher</c>), or several of them as one (<see cref="Teachers.EnsembleTeacher"/>).
/// Precomputed outputs (a teacher cache, recorded answers) are not teachers: they are <see cref="ITeacherTargetSource{TBatch}"/>s.
/// </summary>
/// <remarks>
/// Implementations are thread-safe for concurrent <see cref="InferAsync"/> calls where the backend allows it, and
/// document it when not. Backend-specific services (the underlying module or session) are reachable through
/// <see cref="GetService"/>, as in Microsoft.Extensions.AI.
/// </remarks>
public interface ITeacher : IDisposable
{
    /// <summary>What the teacher is.</summary>
    ModelMetadata Metadata { get; }

    /// <summary>Runs the model in evaluation mode (no gradients) on a batch.</summary>
    /// <param name="inputs">The batch, first dimension = rows.</param>
    /// <param name="intermediates">Names of intermediate outputs to return as well (see <see cref="ModelMetadata.IntermediateNames"/>); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Logits <c>[rows, classes]</c> and the requested intermediates.</returns>
    /// <exception cref="ArgumentException">The input shape does not fit the model, or an intermediate name is unknown (the message lists the known names).</exception>
    ValueTask<ModelOutput> InferAsync(Float32Tensor inputs, IReadOnlyCollection<string>? intermediates = null, CancellationToken cancellationToken = default);

    /// <summary>Returns a backend object of the requested type (for example the TorchSharp module), or null.</summary>
    object? GetService(Type serviceType, object? serviceKey = null);
}
