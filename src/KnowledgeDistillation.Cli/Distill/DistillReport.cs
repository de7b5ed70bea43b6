namespace KnowledgeDistillation.Cli.Distill;

internal sealed record LatencyMs(double P50, double P99);

internal sealed record ModelReport(
    string Architecture,
    double Accuracy,
    IReadOnlyList<double> AccuracyPerSeed,
    double AccuracyStd,
    long Parameters,
    long SizeBytes,
    LatencyMs LatencyMs,
    LatencyMs LatencyBatch64Ms,
    double ThroughputSamplesPerSecond,
    double? AgreementWithTeacher,
    double? ExpectedCalibrationError,
    double TrainSeconds);

internal sealed record DistillReport(
    string Dataset,
    IReadOnlyList<int> Seeds,
    int TrainSamples,
    int TestSamples,
    int Epochs,
    double Temperature,
    double Alpha,
    string TemperatureSchedule,
    string AlphaSchedule,
    string Loss,
    string Device,
    int Threads,
    ModelReport Teacher,
    ModelReport StudentKd,
    ModelReport StudentScratch,
    double KdGainPercentagePoints,
    string Machine,
    DateTimeOffset Date,
    double TotalSeconds)
{
    /// <summary>The method of the distilled student (kd, at, fitnet+kd, …).</summary>
    public string Method { get; init; } = "kd";

    /// <summary>The feature layer pairs per feature method (empty for kd).</summary>
    public IReadOnlyDictionary<string, string> Pairs { get; init; } = new Dictionary<string, string>();

    /// <summary>FitNets hint pre-training epochs.</summary>
    public int HintEpochs { get; init; }

    /// <summary>With <c>--teachers N</c> (N &gt; 1): each member's test accuracy; <see cref="Teacher"/> is then the ensemble.</summary>
    public IReadOnlyList<double>? TeacherMemberAccuracies { get; init; }
}
