namespace KnowledgeDistillation.Sequences;

/// <summary>The result of a sequence loss call.</summary>
/// <param name="Loss">The loss: the sum over valid tokens divided by the normalizer (× T² when asked).</param>
/// <param name="ValidTokens">The number of tokens the mask let in for this call.</param>
/// <param name="Normalizer">The divisor used (the valid tokens of the whole accumulated batch when given, else of this call).</param>
public readonly record struct SequenceLossValue(float Loss, int ValidTokens, float Normalizer);
