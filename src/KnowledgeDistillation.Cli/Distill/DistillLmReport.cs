namespace KnowledgeDistillation.Cli.Distill;

internal sealed record LmModelReport(string Name, string Architecture, long Parameters, double HeldOutPerplexity, double TrainSeconds, int Steps, double FinalTrainLoss)
{
    /// <summary>Mean KL(teacher ‖ model) per held-out token, in nats (students only).</summary>
    public double? HeldOutKlToTeacher { get; init; }

    /// <summary>Share of held-out positions where the model's most likely next token is the teacher's (students only).</summary>
    public double? GreedyAgreement { get; init; }

    /// <summary>Where the model's weights were written.</summary>
    public string? WeightsPath { get; init; }
}

internal sealed record DistillLmReport(
    string Corpus,
    int TrainTokens,
    int HeldOutTokens,
    string Tokenizer,
    int BatchSize,
    int SequenceLength,
    string Divergence,
    double Temperature,
    double Alpha,
    int TopK,
    int SequenceKdTokens,
    int Seed,
    string Device,
    int Threads,
    LmModelReport Teacher,
    IReadOnlyList<LmModelReport> Students,
    string Machine,
    DateTimeOffset Date,
    double TotalSeconds);
