using System.Globalization;

namespace KnowledgeDistillation.Caching;

/// <summary>
/// Which of the cache's shards one worker writes: shard <c>j</c> belongs to worker <see cref="Index"/> when
/// <c>j mod <see cref="Count"/> = <see cref="Index"/></c>. Workers share nothing but the output folder, so they can run
/// on different machines (an indexed job, a scheduler array job) in any order.
/// </summary>
/// <param name="Index">This worker's number, in [0, <paramref name="Count"/>).</param>
/// <param name="Count">The number of workers, ≥ 1.</param>
public readonly record struct ShardSelection(int Index, int Count)
{
    /// <summary>Every shard (one worker).</summary>
    public static ShardSelection All => new(0, 1);

    /// <summary>True when this worker writes logical shard <paramref name="shard"/>.</summary>
    public bool Includes(int shard) => shard % Count == Index;

    /// <summary>Parses <c>i/n</c> (for example <c>3/8</c>).</summary>
    /// <exception cref="FormatException">The text is not <c>i/n</c> with 0 ≤ i &lt; n.</exception>
    public static ShardSelection Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split('/', StringSplitOptions.TrimEntries);
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count)
            && count >= 1 && index < count)
        {
            return new ShardSelection(index, count);
        }
        throw new FormatException($"Shard selection '{text}' is not 'i/n' with 0 <= i < n (for example 0/4 for the first of four workers).");
    }

    /// <summary>Throws when the selection is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Count &lt; 1 or Index outside [0, Count).</exception>
    public void Validate()
    {
        if (Count < 1 || Index < 0 || Index >= Count)
        {
            throw new ArgumentOutOfRangeException(nameof(ShardSelection), $"{Index}/{Count}", "A shard selection i/n needs n >= 1 and 0 <= i < n.");
        }
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");
}
