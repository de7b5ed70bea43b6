namespace KnowledgeDistillation.Cli.Distill;

/// <summary>The settings of one <c>kd distill</c> run (the CLI's options, with the default recipe).</summary>
internal sealed record DistillSettings
{
    public string Teacher { get; init; } = DistillDefaults.Teacher;

    public string Student { get; init; } = DistillDefaults.Student;

    public int TeacherEpochs { get; init; } = DistillDefaults.TeacherEpochs;

    public bool TeacherAugmentation { get; init; } = DistillDefaults.TeacherAugmentation;

    public int Epochs { get; init; } = DistillDefaults.Epochs;

    public IReadOnlyList<int> Seeds { get; init; } = DistillDefaults.Seeds;

    public string Temperature { get; init; } = DistillDefaults.Temperature;

    public string Alpha { get; init; } = DistillDefaults.Alpha;

    public int BatchSize { get; init; } = DistillDefaults.BatchSize;

    public double LearningRate { get; init; } = DistillDefaults.LearningRate;

    public double TeacherLearningRate { get; init; } = DistillDefaults.TeacherLearningRate;

    public string Optimizer { get; init; } = "adamw";

    public string Loss { get; init; } = "hinton";

    /// <summary>kd, at, fitnet, sp, rkd, or a combination such as at+kd (see KnowledgeDistillation.TorchSharp.Recipes.DistillationMethod).</summary>
    public string Method { get; init; } = "kd";

    /// <summary>Layer pairs for the feature methods (student:teacher,…); null for the preset defaults.</summary>
    public string? Pairs { get; init; }

    /// <summary>FitNets hint pre-training epochs (part of <see cref="Epochs"/>).</summary>
    public int HintEpochs { get; init; }

    /// <summary>The weight of each feature term; null for each method's default (at 1000, fitnet 1, sp 3000, rkd 1).</summary>
    public float? FeatureWeight { get; init; }

    /// <summary>Attention-transfer convention: authors (default) or paper.</summary>
    public string AtMode { get; init; } = "authors";

    public string Device { get; init; } = "auto";

    public int? Threads { get; init; }

    public int? TrainLimit { get; init; }

    public int? TestLimit { get; init; }

    public string OutputDirectory { get; init; } = "runs/distill";

    public string CacheDirectory { get; init; } = ".kd-cache";

    public string? DataDirectory { get; init; }

    public string? JsonPath { get; init; }

    public int LatencyIterations { get; init; } = 200;

    /// <summary>A teacher cache folder (kd cache-teacher) the distilled students read their targets from, instead of running the teacher.</summary>
    public string? TeacherCachePath { get; init; }

    /// <summary>How many teachers to train (seeds 1000, 1001, …); more than one distils their ensemble.</summary>
    public int Teachers { get; init; } = 1;

    /// <summary>The memory the run may use; null reads it from the cgroup and the physical memory (<see cref="Distill.MemoryLimit.Detect"/>). Tests set a small one.</summary>
    public MemoryLimit? MemoryLimit { get; init; }
}
