namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>One alternative token with its natural-log probability.</summary>
/// <param name="Token">The token text.</param>
/// <param name="LogProbability">ln p(token), at most 0.</param>
public sealed record TokenAlternative(string Token, double LogProbability);

/// <summary>A generated token, its natural-log probability and the provider's top-k alternatives at that position.</summary>
/// <param name="Token">The generated token text.</param>
/// <param name="LogProbability">ln p(token).</param>
/// <param name="TopAlternatives">The most likely tokens at this position (the generated one usually among them), most likely first.</param>
public sealed record TokenLogProbability(string Token, double LogProbability, IReadOnlyList<TokenAlternative> TopAlternatives);
