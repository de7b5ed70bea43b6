namespace KnowledgeDistillation.Data;

/// <summary>
/// A batch of next-token examples, row-major <c>[BatchSize × SequenceLength]</c>: the model reads <see cref="Inputs"/>
/// and is trained to predict <see cref="Targets"/> (the inputs shifted by one) where <see cref="Mask"/> is true (false on
/// padding and on prompt tokens that are not to be learnt).
/// </summary>
/// <param name="Inputs">Input token ids.</param>
/// <param name="Targets">Next-token ids.</param>
/// <param name="Mask">Which target positions count.</param>
/// <param name="BatchSize">Rows.</param>
/// <param name="SequenceLength">Positions per row.</param>
public sealed record TokenBatch(int[] Inputs, int[] Targets, bool[] Mask, int BatchSize, int SequenceLength)
{
    /// <summary>The number of positions whose target counts.</summary>
    public int ValidTokens => Sequences.SequenceDistillation.CountValidTokens(Mask);

    /// <summary>
    /// The index of each row in its data set, for precomputed teacher targets keyed by sample (recorded answers, caches);
    /// empty when the rows are random windows with no identity. <value>The default value is empty.</value>
    /// </summary>
    public int[] Indices { get; init; } = [];
}
