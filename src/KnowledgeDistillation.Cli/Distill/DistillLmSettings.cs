namespace KnowledgeDistillation.Cli.Distill;

/// <summary>Settings of <c>kd distill-lm</c>; defaults are the measured CPU configuration in docs/results.md.</summary>
internal sealed record DistillLmSettings
{
    public string Teacher { get; init; } = "layers=2,heads=4,width=96,context=64";

    public string Student { get; init; } = "layers=2,heads=4,width=48,context=64";

    public int TeacherSteps { get; init; } = 500;

    public int Steps { get; init; } = 300;

    /// <summary>Steps between held-out evaluations (an epoch of the training core); must divide <see cref="Steps"/>. Null: once, at the end.</summary>
    public int? EvaluateEvery { get; init; }

    public int BatchSize { get; init; } = 8;

    public int SequenceLength { get; init; } = 64;

    public double LearningRate { get; init; } = 3e-3;

    public string Modes { get; init; } = "scratch,dense,sparse,seqkd";

    public string Divergence { get; init; } = "forward-kl";

    public float Temperature { get; init; } = 1f;

    public float Alpha { get; init; } = 0.5f;

    public int TopK { get; init; } = 20;

    public int SequenceKdTokens { get; init; } = 4096;

    public int TrainVerses { get; init; } = 30_000;

    public int HeldOutEvery { get; init; } = 100;

    public int Seed { get; init; } = 1;

    public string Device { get; init; } = "cpu";

    public int? Threads { get; init; }

    public string CacheDirectory { get; init; } = ".kd-cache";

    /// <summary>Folder where every trained student's weights are kept.</summary>
    public string OutputDirectory { get; init; } = "runs/distill-lm";

    public string? TextPath { get; init; }

    public string? JsonPath { get; init; }
}
