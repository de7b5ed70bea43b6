namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>Token counts the provider reported for one response.</summary>
/// <param name="InputTokens">Prompt tokens, or null when the provider did not say.</param>
/// <param name="OutputTokens">Generated tokens, or null when the provider did not say.</param>
/// <param name="CachedInputTokens">Prompt tokens served from the provider's own prompt cache (billed at the cached price when one is configured).</param>
public sealed record TeacherUsage(long? InputTokens, long? OutputTokens, long? CachedInputTokens = null)
{
    /// <summary>Input plus output tokens (missing counts taken as 0).</summary>
    public long TotalTokens => (InputTokens ?? 0) + (OutputTokens ?? 0);
}
