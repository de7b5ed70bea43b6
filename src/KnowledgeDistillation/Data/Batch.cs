using KnowledgeDistillation.Abstractions;

namespace KnowledgeDistillation.Data;

/// <summary>A mini-batch: inputs, hard labels, and the data-set indices of its rows (which offline logit caches key on).</summary>
/// <param name="Inputs">The inputs, first dimension = rows.</param>
/// <param name="Labels">One label per row.</param>
/// <param name="Indices">The index of each row in its data set.</param>
public sealed record Batch(Float32Tensor Inputs, int[] Labels, int[] Indices);
