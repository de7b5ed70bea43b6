namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>
/// Prices per model that the user configures (nothing is hard-coded: providers change prices, and local servers cost
/// nothing). Looked up by the model id the provider reports, then by the requested model id, case-insensitively.
/// </summary>
public sealed class PriceTable
{
    private readonly Dictionary<string, ModelPrice> _prices = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The currency of every price, used in reports and records.</summary>
    /// <value>The default value is <c>USD</c>.</value>
    public string Currency { get; set; } = "USD";

    /// <summary>The configured prices.</summary>
    public IReadOnlyDictionary<string, ModelPrice> Prices => _prices;

    /// <summary>Sets the price of a model; returns this table for chaining.</summary>
    public PriceTable Add(string model, ModelPrice price)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        ArgumentNullException.ThrowIfNull(price);
        if (price.InputPerMillion < 0 || price.OutputPerMillion < 0 || price.CachedInputPerMillion < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(price), price, $"Prices of model '{model}' must be zero or positive.");
        }
        _prices[model] = price;
        return this;
    }

    /// <summary>Finds the price of the first of the given model ids that has one.</summary>
    public ModelPrice? Find(params ReadOnlySpan<string?> modelIds)
    {
        foreach (string? id in modelIds)
        {
            if (id is not null && _prices.TryGetValue(id, out ModelPrice? price))
            {
                return price;
            }
        }
        return null;
    }
}
