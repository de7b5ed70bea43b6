namespace KnowledgeDistillation.Losses;

/// <summary>
/// A loss value with each named term reported separately (for logging and history), and the hyper-parameters the loss
/// used at this step kept apart from the terms.
/// </summary>
/// <param name="Total">The value that was differentiated.</param>
/// <param name="Terms">Each term's own value, unweighted, keyed by term name (for example <c>kd</c>, <c>ce</c>). Terms of
/// micro-batches under gradient accumulation add up (each is already divided by the whole accumulated batch).</param>
/// <param name="Parameters">The hyper-parameters in effect (for example <c>alpha</c>, <c>temperature</c>, a term's
/// <c>weight</c>): rates, which a trainer averages over micro-batches instead of adding.</param>
public sealed record LossValue(float Total, IReadOnlyDictionary<string, float> Terms, IReadOnlyDictionary<string, float> Parameters)
{
    /// <summary>A value with terms and no hyper-parameters.</summary>
    public LossValue(float total, IReadOnlyDictionary<string, float> terms)
        : this(total, terms, Empty)
    {
    }

    private static readonly IReadOnlyDictionary<string, float> Empty = new Dictionary<string, float>();
}
