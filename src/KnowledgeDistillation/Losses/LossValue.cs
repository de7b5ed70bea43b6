namespace KnowledgeDistillation.Losses;

/// <summary>A loss value with each named term reported separately (for logging and history).</summary>
/// <param name="Total">The value that was differentiated.</param>
/// <param name="Terms">Each term's own value, unweighted, keyed by term name (for example <c>kd</c>, <c>ce</c>).</param>
public sealed record LossValue(float Total, IReadOnlyDictionary<string, float> Terms);
