namespace KnowledgeDistillation.Kernels;

/// <summary>What sparse top-k kernels do with the teacher probability mass outside the k stored entries.</summary>
public enum TopKMassTreatment
{
    /// <summary>Renormalise the teacher over its k entries (p_i / Σp); the student side stays the full-vocabulary log-softmax at those indices.</summary>
    Renormalize = 0,

    /// <summary>
    /// Keep the leftover 1 − Σp as a (k+1)-th bucket on the teacher side, matched by the student's mass outside the k indices.
    /// Needs teacher log-probabilities over the full vocabulary (with logits the leftover is zero).
    /// </summary>
    ExtraBucket = 1,
}
