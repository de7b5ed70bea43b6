namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>Prices of one model, per million tokens, in the price table's currency.</summary>
/// <param name="InputPerMillion">Price of one million prompt tokens.</param>
/// <param name="OutputPerMillion">Price of one million generated tokens.</param>
/// <param name="CachedInputPerMillion">Price of one million prompt tokens served from the provider's prompt cache; null to bill them as ordinary input.</param>
public sealed record ModelPrice(decimal InputPerMillion, decimal OutputPerMillion, decimal? CachedInputPerMillion = null)
{
    /// <summary>The cost of a response with these token counts.</summary>
    public decimal CostOf(long inputTokens, long outputTokens, long cachedInputTokens = 0)
    {
        long cached = Math.Clamp(cachedInputTokens, 0, inputTokens);
        decimal cachedPrice = CachedInputPerMillion ?? InputPerMillion;
        return ((inputTokens - cached) * InputPerMillion + cached * cachedPrice + outputTokens * OutputPerMillion) / 1_000_000m;
    }
}
