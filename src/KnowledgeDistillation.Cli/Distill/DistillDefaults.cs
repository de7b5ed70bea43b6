namespace KnowledgeDistillation.Cli.Distill;

/// <summary>The default recipe of <c>kd distill</c> (see docs/results.md for how it was chosen and what it measures).</summary>
internal static class DistillDefaults
{
    public const string Teacher = "cnn:32,64,128:bn";
    public const string Student = "cnn:8,16";
    public const int TeacherEpochs = 8;
    public const int Epochs = 5;
    public static readonly int[] Seeds = [0, 1, 2];
    public const string Temperature = "4";
    public const string Alpha = "0.9";
    public const int BatchSize = 128;
    public const double LearningRate = 2e-3;
    public const double TeacherLearningRate = 2e-3;
}
