namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>What an LLM teacher answered to one prompt, with everything needed to train on it and to account for it.</summary>
public sealed record TeacherResponse
{
    /// <summary>The prompt's identifier.</summary>
    public required string PromptId { get; init; }

    /// <summary>The answer text.</summary>
    public required string Text { get; init; }

    /// <summary>Per-token log-probabilities with top-k alternatives, when they were requested and the provider returned them; otherwise null.</summary>
    public IReadOnlyList<TokenLogProbability>? LogProbabilities { get; init; }

    /// <summary>Token usage as reported by the provider.</summary>
    public required TeacherUsage Usage { get; init; }

    /// <summary>Why generation stopped (<c>stop</c>, <c>length</c>, <c>content_filter</c>, <c>tool_calls</c>), when reported.</summary>
    public string? FinishReason { get; init; }

    /// <summary>The model that answered (as the provider names it), or the requested model when the provider does not say.</summary>
    public string? ModelId { get; init; }

    /// <summary>Wall-clock time of the request that produced the answer (not counting failed attempts or back-off).</summary>
    public TimeSpan Latency { get; init; }

    /// <summary>What the answer cost when it was generated, from the configured price table; null when the model has no price.</summary>
    public decimal? Cost { get; init; }

    /// <summary>True when the answer came from the cache: it cost nothing in this run.</summary>
    public bool FromCache { get; init; }

    /// <summary>Requests made for this answer in this run (1 without retries; 0 for a cache hit).</summary>
    public int Attempts { get; init; }
}
