namespace KnowledgeDistillation.TorchSharp.LanguageModels;

/// <summary>What the student learns from besides the next-token labels.</summary>
public enum LanguageModelTeacherMode
{
    /// <summary>No teacher: plain next-token cross-entropy (from scratch, or on teacher-generated text for sequence-level KD).</summary>
    None,

    /// <summary>Token-level KD against the teacher's full logits at every position.</summary>
    DenseLogits,

    /// <summary>Token-level KD against the teacher's top-k log-probabilities only (what API teachers and logit caches give).</summary>
    SparseTopK,
}
