namespace KnowledgeDistillation.Data;

/// <summary>
/// A labelled data set of one model kind, iterated in mini-batches of <typeparamref name="TBatch"/>, reproducibly for a
/// given seed and epoch: images (<see cref="Batch"/>, <see cref="IBatchSource"/>) or token windows
/// (<see cref="TokenBatch"/>, <see cref="TokenWindowSource"/>). Trainers take one for training and one for evaluation.
/// </summary>
/// <typeparam name="TBatch">The batch type the student model reads.</typeparam>
public interface IBatchSource<out TBatch>
{
    /// <summary>The number of samples one epoch yields (images, or token windows).</summary>
    int Count { get; }

    /// <summary>The number of classes a label can take (for token data: the vocabulary size of the ids).</summary>
    int ClassCount { get; }

    /// <summary>The shape of one sample (for example <c>[1, 28, 28]</c> for an image, <c>[64]</c> for a window of 64 tokens).</summary>
    IReadOnlyList<int> SampleShape { get; }

    /// <summary>
    /// Yields the batches of one epoch. With <paramref name="shuffle"/>, the order (or, for random windows, the draw) is a
    /// pure function of <c>(seed, epoch)</c>, so a resumed run sees exactly the batches an uninterrupted one would.
    /// </summary>
    IEnumerable<TBatch> GetBatches(int batchSize, bool shuffle, int seed, int epoch);
}

/// <summary>An image (or any fixed-shape tensor) classification data set: batches of <see cref="Batch"/>.</summary>
public interface IBatchSource : IBatchSource<Batch>
{
}
