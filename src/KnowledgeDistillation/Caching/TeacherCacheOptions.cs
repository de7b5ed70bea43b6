using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Caching;

/// <summary>How <see cref="TeacherCacheWriter"/> writes a teacher cache. Every property has a documented default; <see cref="Validate"/> reports every problem at once.</summary>
public sealed class TeacherCacheOptions
{
    /// <summary>What each row stores. <value>The default value is <see cref="TeacherCacheFormat.Float32"/>.</value></summary>
    public TeacherCacheFormat Format { get; set; } = TeacherCacheFormat.Float32;

    /// <summary>Entries per row for <see cref="TeacherCacheFormat.TopK"/>, in [1, classes]; ignored by the dense formats. <value>The default value is 5.</value></summary>
    public int TopK { get; set; } = 5;

    /// <summary>
    /// What top-k values are: raw logits (the loss softens them at its temperature, renormalised over the k entries) or
    /// full-vocabulary log-probabilities at temperature 1 (which keep the mass outside the top-k for
    /// <see cref="TopKMassTreatment.ExtraBucket"/>). <value>The default value is <see cref="TopKValueKind.Logits"/>.</value>
    /// </summary>
    public TopKValueKind TopKValues { get; set; } = TopKValueKind.Logits;

    /// <summary>Rows per shard file; together with the data set size it fixes the shard layout, so all workers of one cache must use the same value. <value>The default value is 16384.</value></summary>
    public int RowsPerShard { get; set; } = 16384;

    /// <summary>Rows per teacher call. Batches are aligned to shard starts, so a shard's content does not depend on which worker or run wrote it. <value>The default value is 512.</value></summary>
    public int BatchSize { get; set; } = 512;

    /// <summary>Which shards this worker writes. <value>The default value is <see cref="ShardSelection.All"/>.</value></summary>
    public ShardSelection Shard { get; set; } = ShardSelection.All;

    /// <summary>
    /// Identifies the teacher (for example its architecture and a hash of its weights); stored in every shard and checked
    /// by readers that pass an expected id. Null uses the teacher's <c>Metadata.Name</c>. <value>The default value is null.</value>
    /// </summary>
    public string? TeacherId { get; set; }

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid setting.</summary>
    /// <param name="classes">The teacher's class count, to check <see cref="TopK"/>; null skips that check.</param>
    public void Validate(int? classes = null)
    {
        var problems = new List<string>();
        if (!Enum.IsDefined(Format))
        {
            problems.Add($"Format = {Format} is not a TeacherCacheFormat; use Float32, Float16 or TopK.");
        }
        if (Format == TeacherCacheFormat.TopK)
        {
            if (TopK < 1 || (classes is { } c && TopK > c))
            {
                problems.Add($"TopK = {TopK} must be in [1, classes{(classes is { } n ? $" = {n}" : "")}] for the TopK format.");
            }
            if (!Enum.IsDefined(TopKValues))
            {
                problems.Add($"TopKValues = {TopKValues} is not a TopKValueKind; use Logits or LogProbabilities.");
            }
        }
        if (RowsPerShard < 1)
        {
            problems.Add($"RowsPerShard = {RowsPerShard} must be at least 1 (16384 is a good size).");
        }
        if (BatchSize < 1)
        {
            problems.Add($"BatchSize = {BatchSize} must be at least 1.");
        }
        if (Shard.Count < 1 || Shard.Index < 0 || Shard.Index >= Shard.Count)
        {
            problems.Add($"Shard = {Shard.Index}/{Shard.Count} needs 0 <= i < n and n >= 1.");
        }
        if (TeacherId is { Length: 0 })
        {
            problems.Add("TeacherId is empty; leave it null to use the teacher's name.");
        }
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid teacher cache options: " + string.Join(" ", problems), "options");
        }
    }
}
