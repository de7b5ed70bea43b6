using System.Text.Json.Serialization;
using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Caching;

/// <summary>
/// The header of one shard file: what the cache holds (format, shape, k, teacher, data set), where this shard sits in it,
/// and the SHA-256 of its payload. Stored as length-prefixed UTF-8 JSON after the magic bytes; see docs/teacher-cache.md.
/// </summary>
public sealed record TeacherCacheShardHeader
{
    /// <summary>The file layout version this library writes.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>The file layout version.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>How rows are stored.</summary>
    public TeacherCacheFormat Format { get; init; }

    /// <summary>Classes per teacher output row (the logits' last dimension).</summary>
    /// <remarks>Stored as <c>Classes</c> in the file, the name format version 1 was written with.</remarks>
    [JsonPropertyName("Classes")]
    public int ClassCount { get; init; }

    /// <summary>Entries per row for <see cref="TeacherCacheFormat.TopK"/>; 0 for dense formats.</summary>
    /// <remarks>Stored as <c>K</c> in the file, the name format version 1 was written with.</remarks>
    [JsonPropertyName("K")]
    public int TopK { get; init; }

    /// <summary>What top-k values are (logits or log-probabilities); <see cref="TopKValueKind.Logits"/> for dense formats.</summary>
    public TopKValueKind ValueKind { get; init; }

    /// <summary>The teacher's identifier.</summary>
    public string TeacherId { get; init; } = "";

    /// <summary>The data set the outputs were computed on.</summary>
    public DataSetFingerprint Fingerprint { get; init; } = new("", 0, [], 0);

    /// <summary>Rows per shard (the last shard may hold fewer).</summary>
    public int RowsPerShard { get; init; }

    /// <summary>The number of shards of the whole cache.</summary>
    public int ShardCount { get; init; }

    /// <summary>This shard's number, in [0, <see cref="ShardCount"/>).</summary>
    public int ShardIndex { get; init; }

    /// <summary>The data-set index of this shard's first row (<c>ShardIndex × RowsPerShard</c>).</summary>
    public int FirstRow { get; init; }

    /// <summary>Rows in this shard.</summary>
    public int Rows { get; init; }

    /// <summary>Rows per teacher call when the shard was written.</summary>
    public int BatchSize { get; init; }

    /// <summary>Byte offset of the payload in the file (64-byte aligned).</summary>
    public long PayloadOffset { get; init; }

    /// <summary>Payload length in bytes.</summary>
    public long PayloadBytes { get; init; }

    /// <summary>Lower-case hex SHA-256 of the payload.</summary>
    public string PayloadSha256 { get; init; } = "";

    /// <summary>Bytes per row of payload for this format.</summary>
    [JsonIgnore]
    public int BytesPerRow => Format switch
    {
        TeacherCacheFormat.Float32 => 4 * ClassCount,
        TeacherCacheFormat.Float16 => 2 * ClassCount,
        _ => 8 * TopK,
    };

    /// <summary>True when <paramref name="other"/> belongs to the same cache (everything except the shard's own position and checksum agrees).</summary>
    public bool SameCacheAs(TeacherCacheShardHeader other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return FormatVersion == other.FormatVersion && Format == other.Format && ClassCount == other.ClassCount && TopK == other.TopK
            && ValueKind == other.ValueKind && TeacherId == other.TeacherId && Fingerprint.Matches(other.Fingerprint)
            && RowsPerShard == other.RowsPerShard && ShardCount == other.ShardCount && BatchSize == other.BatchSize;
    }

    /// <summary>A one-line description of the cache for messages.</summary>
    public string Describe() =>
        $"{Format}{(Format == TeacherCacheFormat.TopK ? $" k={TopK} ({ValueKind})" : "")}, {ClassCount} classes, teacher '{TeacherId}', " +
        $"{RowsPerShard} rows/shard × {ShardCount} shards, batch {BatchSize}, data: {Fingerprint.Describe()}";
}

[JsonSourceGenerationOptions(WriteIndented = false, UseStringEnumConverter = true)]
[JsonSerializable(typeof(TeacherCacheShardHeader))]
internal sealed partial class TeacherCacheJsonContext : JsonSerializerContext
{
}
