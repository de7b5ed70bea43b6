namespace KnowledgeDistillation.Abstractions;

/// <summary>
/// A teacher that forwards every call to an inner teacher: derive from it to add behaviour (logging, caching,
/// validation) around any teacher, as <c>DelegatingChatClient</c> does in Microsoft.Extensions.AI.
/// </summary>
public abstract class DelegatingTeacher : ITeacher
{
    /// <summary>Wraps <paramref name="innerTeacher"/>.</summary>
    protected DelegatingTeacher(ITeacher innerTeacher)
    {
        InnerTeacher = innerTeacher ?? throw new ArgumentNullException(nameof(innerTeacher));
    }

    /// <summary>The wrapped teacher.</summary>
    protected ITeacher InnerTeacher { get; }

    /// <inheritdoc />
    public virtual ModelMetadata Metadata => InnerTeacher.Metadata;

    /// <inheritdoc />
    public virtual ValueTask<ModelOutput> InferAsync(Float32Tensor inputs, IReadOnlyCollection<string>? intermediates = null, CancellationToken cancellationToken = default) =>
        InnerTeacher.InferAsync(inputs, intermediates, cancellationToken);

    /// <inheritdoc />
    public virtual object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this : InnerTeacher.GetService(serviceType, serviceKey);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Disposes the inner teacher.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            InnerTeacher.Dispose();
        }
    }
}
