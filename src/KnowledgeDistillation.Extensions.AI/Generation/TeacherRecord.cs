using KnowledgeDistillation.Extensions.AI.Teachers;

namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>
/// One line of the output JSONL (snake_case names): the prompt, the teacher's answer and its accounting, or the
/// permanent error that prompt met. Exactly one record per prompt id.
/// </summary>
public sealed record TeacherRecord
{
    /// <summary>The prompt's stable id.</summary>
    public required string Id { get; init; }

    /// <summary>The conversation sent (the system prompt first, when there is one).</summary>
    public required IReadOnlyList<RecordMessage> Messages { get; init; }

    /// <summary>The answer text; null for an error record.</summary>
    public string? Response { get; init; }

    /// <summary>Why generation stopped.</summary>
    public string? FinishReason { get; init; }

    /// <summary>The model that answered.</summary>
    public string? Model { get; init; }

    /// <summary>Token usage.</summary>
    public TeacherUsage? Usage { get; init; }

    /// <summary>Per-token log-probabilities with top-k alternatives, when requested and returned.</summary>
    public IReadOnlyList<TokenLogProbability>? Logprobs { get; init; }

    /// <summary>Latency of the request that produced the answer, in milliseconds (of the original request for a cached answer).</summary>
    public double? LatencyMs { get; init; }

    /// <summary>What the answer cost when it was generated (a cached answer cost nothing in this run: see <see cref="Cached"/>).</summary>
    public decimal? Cost { get; init; }

    /// <summary>The currency of <see cref="Cost"/>.</summary>
    public string? Currency { get; init; }

    /// <summary>True when the answer came from the cache.</summary>
    public bool Cached { get; init; }

    /// <summary>Requests made for this record in the run that wrote it.</summary>
    public int Attempts { get; init; }

    /// <summary>The permanent error, for a prompt the teacher refused (HTTP 400, 401…); null for an answer.</summary>
    public RecordError? Error { get; init; }
}

/// <summary>One message of a record's conversation.</summary>
/// <param name="Role">system, user or assistant.</param>
/// <param name="Content">The text.</param>
public sealed record RecordMessage(string Role, string Content);

/// <summary>A permanent error recorded against a prompt.</summary>
/// <param name="Kind">e.g. <c>http_400</c>, <c>http_401</c>.</param>
/// <param name="Status">The HTTP status, when there was a response.</param>
/// <param name="Message">What the server said (never credentials).</param>
public sealed record RecordError(string Kind, int? Status, string Message);
