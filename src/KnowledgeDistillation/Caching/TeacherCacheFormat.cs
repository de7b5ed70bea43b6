namespace KnowledgeDistillation.Caching;

/// <summary>How a teacher cache stores each row of teacher outputs.</summary>
public enum TeacherCacheFormat
{
    /// <summary>All logits as float32 (4 bytes × classes per row): training gives exactly the live teacher's loss.</summary>
    Float32 = 0,

    /// <summary>All logits as IEEE float16 (2 bytes × classes per row): half the size, logits rounded to 11 significant bits.</summary>
    Float16 = 1,

    /// <summary>
    /// The k largest entries per row as (int32 class index, float32 value) pairs, 8 bytes × k per row; the values are
    /// logits or full-vocabulary log-probabilities (<see cref="TeacherCacheOptions.TopKValues"/>). Training uses the
    /// sparse top-k approximation (<see cref="Losses.TopKHintonDistillationLoss"/>).
    /// </summary>
    TopK = 2,
}
