using Microsoft.Extensions.AI;

namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>Options of a <see cref="ChatClientTeacher"/>. Validated when the teacher is created.</summary>
public sealed class ChatClientTeacherOptions
{
    /// <summary>The model to ask for (sent as <see cref="ChatOptions.ModelId"/>); null to use the chat client's default model.</summary>
    /// <value>The default value is null.</value>
    public string? Model { get; set; }

    /// <summary>A system prompt put in front of every prompt's messages.</summary>
    /// <value>The default value is null (none).</value>
    public string? SystemPrompt { get; set; }

    /// <summary>Sampling temperature; null leaves the provider's default.</summary>
    /// <value>The default value is null.</value>
    public float? Temperature { get; set; }

    /// <summary>Nucleus-sampling probability mass; null leaves the provider's default.</summary>
    /// <value>The default value is null.</value>
    public float? TopP { get; set; }

    /// <summary>
    /// The most tokens a response may have. Required when a budget is set: it is what lets a run know, before sending a
    /// request, the most that request can cost.
    /// </summary>
    /// <value>The default value is null (the provider's limit).</value>
    public int? MaxOutputTokens { get; set; }

    /// <summary>A seed for providers that support reproducible sampling.</summary>
    /// <value>The default value is null.</value>
    public long? Seed { get; set; }

    /// <summary>Sequences that end generation.</summary>
    /// <value>The default value is empty.</value>
    public IList<string> StopSequences { get; } = [];

    /// <summary>
    /// How many most-likely alternatives to record per generated token (0–20), when the provider supports
    /// log-probabilities (OpenAI-compatible endpoints do); null does not request log-probabilities.
    /// </summary>
    /// <value>The default value is null.</value>
    public int? TopLogProbabilities { get; set; }

    /// <summary>Prices per model, for the cost of every response and for a budget in currency.</summary>
    /// <value>The default value is an empty table in USD (costs are then unknown).</value>
    public PriceTable Prices { get; set; } = new();

    /// <summary>Retries of transient failures.</summary>
    public RetryOptions Retry { get; set; } = new();

    /// <summary>Whether responses are read from and written to the cache.</summary>
    /// <value>The default value is true.</value>
    public bool UseCache { get; set; } = true;

    /// <summary>How long a cached response is kept; null keeps it until the cache is deleted.</summary>
    /// <value>The default value is null.</value>
    public TimeSpan? CacheLifetime { get; set; }

    /// <summary>
    /// Values that must never appear in an error message, a record or a log line: the API key (and any other credential
    /// the chat client holds). The teacher cannot read them from the chat client, so add them here;
    /// <c>Bearer …</c> tokens and <c>api-key</c> values are masked whether or not they are listed.
    /// </summary>
    /// <value>The default value is empty.</value>
    public IList<string> Secrets { get; } = [];

    /// <summary>
    /// After the cache fails (a Redis server that went away), how long the teacher goes on without it before trying it
    /// again. A failing cache never stops a run: answers are requested and written, just not cached, and the failure
    /// is logged once, not per request.
    /// </summary>
    /// <value>The default value is 60 seconds.</value>
    public TimeSpan CacheRetryInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Reads token log-probabilities from a response for providers whose client does not expose them as OpenAI's
    /// does. Return null when the response holds none. When null, the built-in reader handles
    /// <c>Microsoft.Extensions.AI.OpenAI</c> chat clients.
    /// </summary>
    /// <value>The default value is null.</value>
    public Func<ChatResponse, IReadOnlyList<TokenLogProbability>?>? LogProbabilityReader { get; set; }

    internal void Validate()
    {
        if (Temperature is { } t && (!float.IsFinite(t) || t < 0))
        {
            throw new ArgumentOutOfRangeException(nameof(Temperature), t, "ChatClientTeacherOptions.Temperature must be a finite number >= 0 (or null for the provider's default).");
        }
        if (TopP is { } p && (!float.IsFinite(p) || p <= 0 || p > 1))
        {
            throw new ArgumentOutOfRangeException(nameof(TopP), p, "ChatClientTeacherOptions.TopP must be in (0, 1] (or null).");
        }
        if (MaxOutputTokens is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxOutputTokens), MaxOutputTokens, "ChatClientTeacherOptions.MaxOutputTokens must be at least 1 (or null for the provider's limit).");
        }
        if (TopLogProbabilities is < 0 or > 20)
        {
            throw new ArgumentOutOfRangeException(nameof(TopLogProbabilities), TopLogProbabilities, "ChatClientTeacherOptions.TopLogProbabilities must be between 0 and 20 (OpenAI's limit), or null to not request log-probabilities.");
        }
        if (CacheLifetime is { } life && life <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(CacheLifetime), life, "ChatClientTeacherOptions.CacheLifetime must be positive (or null to keep entries).");
        }
        if (CacheRetryInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(CacheRetryInterval), CacheRetryInterval, "ChatClientTeacherOptions.CacheRetryInterval must be positive.");
        }
        ArgumentNullException.ThrowIfNull(Prices, nameof(Prices));
        ArgumentNullException.ThrowIfNull(Retry, nameof(Retry));
        Retry.Validate();
    }
}
