namespace KnowledgeDistillation.Cli.Distill;

/// <summary>The default recipe of <c>kd distill</c> (see docs/results.md for how it was chosen and what it measures).</summary>
internal static class DistillDefaults
{
    public const string Teacher = "cnn:32,64,128:bn";
    public const string Student = "cnn:16,32";
    public const int TeacherEpochs = 8;
    public const int Epochs = 2;
    public static readonly int[] Seeds = [0, 1, 2];
    public const string Temperature = "1";
    public const string Alpha = "0.7";
    public const int BatchSize = 128;
    public const double LearningRate = 3e-3;
    public const double TeacherLearningRate = 2e-3;
    public const bool TeacherAugmentation = true;
}
