namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>A prompt the teacher could not answer: a permanent error (HTTP 400, 401, 403, 404, 422…), or transient errors until the attempts ran out.</summary>
public sealed class TeacherRequestException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TeacherRequestException(string promptId, string message, int? statusCode, bool isTransient, int attempts, Exception? innerException)
        : base(message, innerException)
    {
        PromptId = promptId;
        StatusCode = statusCode;
        IsTransient = isTransient;
        Attempts = attempts;
    }

    /// <summary>Creates the exception.</summary>
    public TeacherRequestException() : this("", "The teacher request failed.", null, false, 0, null)
    {
    }

    /// <summary>Creates the exception.</summary>
    public TeacherRequestException(string message) : this("", message, null, false, 0, null)
    {
    }

    /// <summary>Creates the exception.</summary>
    public TeacherRequestException(string message, Exception innerException) : this("", message, null, false, 0, innerException)
    {
    }

    /// <summary>The prompt that failed.</summary>
    public string PromptId { get; }

    /// <summary>The HTTP status of the last attempt, when there was a response.</summary>
    public int? StatusCode { get; }

    /// <summary>True when the last failure was transient (the attempts ran out): a rerun may succeed.</summary>
    public bool IsTransient { get; }

    /// <summary>Requests made.</summary>
    public int Attempts { get; }
}
