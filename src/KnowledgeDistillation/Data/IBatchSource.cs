namespace KnowledgeDistillation.Data;

/// <summary>A labelled data set that can be iterated in mini-batches, reproducibly for a given seed and epoch.</summary>
public interface IBatchSource
{
    /// <summary>The number of samples.</summary>
    int Count { get; }

    /// <summary>The number of classes.</summary>
    int ClassCount { get; }

    /// <summary>The shape of one sample (for example <c>[1, 28, 28]</c>).</summary>
    IReadOnlyList<int> SampleShape { get; }

    /// <summary>
    /// Yields the batches of one epoch. With <paramref name="shuffle"/>, the order is a permutation drawn from
    /// <c>(seed, epoch)</c> only, so a resumed run sees exactly the order an uninterrupted one would.
    /// </summary>
    IEnumerable<Batch> GetBatches(int batchSize, bool shuffle, int seed, int epoch);
}
