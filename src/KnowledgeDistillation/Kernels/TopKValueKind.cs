namespace KnowledgeDistillation.Kernels;

/// <summary>What the values of a sparse top-k teacher are.</summary>
public enum TopKValueKind
{
    /// <summary>Raw logits: the teacher distribution is softmax(values / T) over the k entries (no leftover mass).</summary>
    Logits = 0,

    /// <summary>Full-vocabulary log-probabilities (as APIs and logit caches store them), used as they are; the temperature applies to the student only.</summary>
    LogProbabilities = 1,
}
