namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>
/// The answer cache could not be reached when a run started (a Redis server that is down or unreachable) and
/// <see cref="GenerationOptions.RequireCache"/> is set. Nothing was sent and the output was not opened.
/// </summary>
public sealed class TeacherCacheUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TeacherCacheUnavailableException()
        : base("The answer cache cannot be reached.")
    {
    }

    /// <summary>Creates the exception.</summary>
    public TeacherCacheUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public TeacherCacheUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
