using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>
/// One of <see cref="Count"/> disjoint parts of a prompt set, for generating it on several machines at once. A prompt
/// belongs to shard <c>SHA-256(UTF-8 id)[0..8] (big-endian) mod Count</c>: deterministic, the same on every machine
/// and run, independent of the order of the prompts file and of how many prompts it holds (adding prompts does not
/// move existing ones to another shard), and even for any ids. Every worker reads the whole prompts file and answers
/// its own part; <see cref="TeacherRecordFile.MergeAsync"/> joins the workers' files.
/// </summary>
/// <param name="Index">This worker's shard, 0 ≤ Index &lt; Count.</param>
/// <param name="Count">How many shards (workers), at least 1.</param>
public readonly record struct PromptShard(int Index, int Count)
{
    /// <summary>The most shards.</summary>
    public const int MaxCount = 100_000;

    /// <summary>Whether a prompt id belongs to this shard.</summary>
    public bool Contains(string promptId) => Of(promptId, Count) == Index;

    /// <summary>The shard (0 … count−1) a prompt id belongs to.</summary>
    public static int Of(string promptId, int count)
    {
        ArgumentNullException.ThrowIfNull(promptId);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(promptId), hash);
        return (int)(BinaryPrimitives.ReadUInt64BigEndian(hash) % (ulong)count);
    }

    /// <summary>Parses <c>i/n</c> (e.g. <c>3/8</c>).</summary>
    /// <exception cref="FormatException">Not two whole numbers with 0 ≤ i &lt; n ≤ <see cref="MaxCount"/>; the message says what is expected.</exception>
    public static PromptShard Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count))
        {
            throw new FormatException($"shard '{text}' is not of the form i/n (e.g. 3/8: worker 3 of 8, counted from 0).");
        }
        var shard = new PromptShard(index, count);
        shard.Validate();
        return shard;
    }

    /// <summary>The output file of this shard next to <paramref name="outputPath"/>: <c>teacher.jsonl</c> becomes <c>teacher.shard-00003-of-00008.jsonl</c>.</summary>
    public string OutputPathFor(string outputPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        Validate();
        string directory = Path.GetDirectoryName(outputPath) ?? "";
        string name = Path.GetFileNameWithoutExtension(outputPath);
        string extension = Path.GetExtension(outputPath);
        return Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"{name}.shard-{Index:D5}-of-{Count:D5}{extension}"));
    }

    /// <summary>The shard files of an <paramref name="outputPath"/> split <paramref name="count"/> ways, in shard order.</summary>
    public static IReadOnlyList<string> OutputPaths(string outputPath, int count)
    {
        var paths = new string[count];
        for (int i = 0; i < count; i++)
        {
            paths[i] = new PromptShard(i, count).OutputPathFor(outputPath);
        }
        return paths;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    internal void Validate()
    {
        if (Count is < 1 or > MaxCount || Index < 0 || Index >= Count)
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                $"shard {Index}/{Count} is out of range: n must be from 1 to {MaxCount} and i from 0 to n-1 (e.g. 0/8 … 7/8)."));
        }
    }
}
