using KnowledgeDistillation.Cli.Distill;

namespace KnowledgeDistillation.Cli.Cache;

/// <summary>The settings of one <c>kd cache-teacher</c> run.</summary>
internal sealed record CacheTeacherSettings
{
    /// <summary>The cache folder to write.</summary>
    public required string OutputDirectory { get; init; }

    public string Teacher { get; init; } = DistillDefaults.Teacher;

    /// <summary>An explicit teacher weights file; null looks the teacher up in <see cref="TeacherDirectory"/> as <c>kd distill</c> caches it.</summary>
    public string? TeacherWeights { get; init; }

    /// <summary>The <c>kd distill --cache</c> folder.</summary>
    public string TeacherDirectory { get; init; } = ".kd-cache";

    // These locate the teacher kd distill trained (they are part of its cache key).
    public int TeacherEpochs { get; init; } = DistillDefaults.TeacherEpochs;

    public bool TeacherAugmentation { get; init; } = DistillDefaults.TeacherAugmentation;

    public int DistillBatchSize { get; init; } = DistillDefaults.BatchSize;

    public string Format { get; init; } = "float32";

    public int TopK { get; init; } = 5;

    public string Values { get; init; } = "logits";

    public string Shard { get; init; } = "0/1";

    public int RowsPerShard { get; init; } = 16384;

    public int BatchSize { get; init; } = 512;

    public string Device { get; init; } = "auto";

    public int? Threads { get; init; }

    public int? TrainLimit { get; init; }

    public string? DataDirectory { get; init; }
}
