namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>
/// How a teacher retries transient failures: HTTP 408, 409, 429 and 5xx, per-attempt timeouts, broken connections and
/// malformed response bodies. Delays grow exponentially with full jitter; a <c>Retry-After</c> (or <c>retry-after-ms</c>)
/// header from the server replaces the computed delay. Every prompt's loop is bounded by <see cref="MaxAttempts"/> and,
/// in time, by <see cref="MaxAttempts"/> × (<see cref="AttemptTimeout"/> + <see cref="MaxDelay"/>).
/// </summary>
public sealed class RetryOptions
{
    /// <summary>Requests per prompt, the first included (1 disables retries).</summary>
    /// <value>The default value is 6.</value>
    public int MaxAttempts { get; set; } = 6;

    /// <summary>The delay before the first retry; attempt n waits a random time in [0, BaseDelay × 2^(n-1)], capped by <see cref="MaxDelay"/>.</summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two attempts, including one asked for by <c>Retry-After</c>.</summary>
    /// <value>The default value is 60 seconds.</value>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long one request may take before it is abandoned and retried.</summary>
    /// <value>The default value is 120 seconds.</value>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(120);

    internal void Validate()
    {
        if (MaxAttempts is < 1 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "RetryOptions.MaxAttempts must be between 1 (no retries) and 100.");
        }
        if (BaseDelay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(BaseDelay), BaseDelay, "RetryOptions.BaseDelay must be zero or positive.");
        }
        if (MaxDelay < BaseDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDelay), MaxDelay, $"RetryOptions.MaxDelay must be at least BaseDelay ({BaseDelay}).");
        }
        if (AttemptTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(AttemptTimeout), AttemptTimeout, "RetryOptions.AttemptTimeout must be positive.");
        }
    }
}
