namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>
/// Reserves each request's worst case before it is sent and settles it with the real cost when it returns, so that
/// concurrent requests together can never take a run past its cap.
/// </summary>
internal sealed class BudgetTracker(decimal? maxCost, long? maxTokens)
{
    private readonly Lock _lock = new();
    private decimal _spentCost, _reservedCost;
    private long _spentTokens, _reservedTokens;

    public bool IsLimited => maxCost is not null || maxTokens is not null;

    public bool TryReserve(long tokens, decimal? cost)
    {
        lock (_lock)
        {
            if (maxCost is { } cap && _spentCost + _reservedCost + (cost ?? 0) > cap)
            {
                return false;
            }
            if (maxTokens is { } tokenCap && _spentTokens + _reservedTokens + tokens > tokenCap)
            {
                return false;
            }
            _reservedCost += cost ?? 0;
            _reservedTokens += tokens;
            return true;
        }
    }

    /// <summary>Replaces a reservation with what was spent; an unknown actual (no usage reported) counts as the whole reservation.</summary>
    public void Settle(long reservedTokens, decimal? reservedCost, long? actualTokens, decimal? actualCost)
    {
        lock (_lock)
        {
            _reservedCost -= reservedCost ?? 0;
            _reservedTokens -= reservedTokens;
            _spentCost += actualCost ?? reservedCost ?? 0;
            _spentTokens += actualTokens ?? reservedTokens;
        }
    }

    /// <summary>Gives a reservation back (a failed request; providers do not bill errors).</summary>
    public void Release(long reservedTokens, decimal? reservedCost) => Settle(reservedTokens, reservedCost, 0, 0);
}
