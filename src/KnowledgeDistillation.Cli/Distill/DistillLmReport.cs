namespace KnowledgeDistillation.Cli.Distill;

internal sealed record LmModelReport(string Name, string Architecture, long Parameters, double HeldOutPerplexity, double TrainSeconds, int Steps, double FinalTrainLoss);

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
