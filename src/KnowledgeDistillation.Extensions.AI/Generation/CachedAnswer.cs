using KnowledgeDistillation.Extensions.AI.Teachers;

namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>What the cache stores for a request: the answer without the prompt id (the key is the request's content).</summary>
internal sealed record CachedAnswer(string Text, IReadOnlyList<TokenLogProbability>? Logprobs, TeacherUsage Usage, string? FinishReason, string? Model, double LatencyMs, decimal? Cost)
{
    public static CachedAnswer From(TeacherResponse r) => new(r.Text, r.LogProbabilities, r.Usage, r.FinishReason, r.ModelId, r.Latency.TotalMilliseconds, r.Cost);

    public TeacherResponse ToResponse(string promptId) => new()
    {
        PromptId = promptId,
        Text = Text,
        LogProbabilities = Logprobs,
        Usage = Usage,
        FinishReason = FinishReason,
        ModelId = Model,
        Latency = TimeSpan.FromMilliseconds(LatencyMs),
        Cost = Cost,
        FromCache = true,
        Attempts = 0,
    };
}
