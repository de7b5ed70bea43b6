namespace KnowledgeDistillation.TorchSharp.Models;

/// <summary>The hard label of every logit row of a batch, and which rows count (for a language model: the next tokens, with padding and prompt positions masked out).</summary>
/// <param name="Labels">One label per row.</param>
/// <param name="Mask">One entry per row, false for rows that neither learn nor count; null when every row counts.</param>
public sealed record RowLabels(int[] Labels, bool[]? Mask)
{
    /// <summary>The rows that count: all rows, or the true entries of <see cref="Mask"/>. Losses are normalised by the sum of these over an accumulated batch.</summary>
    public int CountingRows => Mask is null ? Labels.Length : Sequences.SequenceDistillation.CountValidTokens(Mask);
}
