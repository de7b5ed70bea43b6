using System.Globalization;
using KnowledgeDistillation.Caching;
using KnowledgeDistillation.Cli.Cache;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.TorchSharp.Recipes;
using TorchSharp;

namespace KnowledgeDistillation.Cli.Distill;

/// <summary>
/// How <c>kd distill</c> trains its teacher (architecture, budget, augmentation) and where it keeps it: shared by
/// <c>kd distill</c>, which trains or loads it, and <c>kd cache-teacher</c>, which finds the same teacher.
/// </summary>
internal sealed record TeacherPlan(string Architecture, int Epochs, int BatchSize, double LearningRate, bool Augmentation, string Directory)
{
    public static TeacherPlan For(DistillSettings s) => new(s.Teacher, s.TeacherEpochs, s.BatchSize, s.TeacherLearningRate, s.TeacherAugmentation, s.CacheDirectory);

    public static TeacherPlan For(CacheTeacherSettings s) =>
        new(s.Teacher, s.TeacherEpochs, s.DistillBatchSize, DistillDefaults.TeacherLearningRate, s.TeacherAugmentation, s.TeacherDirectory);

    public TeacherStore Store => new(Directory);

    /// <summary>Member 0 of an ensemble has seed 1000, member i seed 1000 + i.</summary>
    public static int Seed(int member) => 1000 + member;

    /// <summary>The store key of member <paramref name="member"/> trained on <paramref name="train"/>: member 0 keeps the single-teacher key.</summary>
    public string Key(LabeledImageSet train, int member = 0)
    {
        string key = TeacherStore.Key(
            DataSetFingerprint.Compute(train).ContentSha256, Architecture, Epochs.ToString(CultureInfo.InvariantCulture), BatchSize.ToString(CultureInfo.InvariantCulture),
            LearningRate.ToString(CultureInfo.InvariantCulture), Augmentation.ToString(), torch.__version__);
        return member == 0 ? key : $"{key}-seed{Seed(member)}";
    }
}
