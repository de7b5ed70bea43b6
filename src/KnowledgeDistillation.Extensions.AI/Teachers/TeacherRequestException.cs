namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>
/// A prompt the teacher could not answer: the provider refused it (HTTP 400, 404, 422…), refused the credentials
/// (HTTP 401 or 403: <see cref="IsAuthenticationFailure"/>), or transient errors lasted until the attempts ran out.
/// The message never holds a credential (see <see cref="SecretRedactor"/>).
/// </summary>
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

    /// <summary>A short machine-readable reason for the last failure: <c>http_400</c>, <c>http_401</c>, <c>timeout</c>, <c>connection</c>, <c>malformed_response</c>…</summary>
    public string? FailureKind { get; init; }

    /// <summary>
    /// True for HTTP 401 and 403: the endpoint refused the credentials. That is not about the prompt, so a run writes
    /// no record for it and stops at once (every other prompt would be refused the same way).
    /// </summary>
    public bool IsAuthenticationFailure => StatusCode is 401 or 403;
}
