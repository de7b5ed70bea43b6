namespace KnowledgeDistillation.Abstractions;

/// <summary>The forms of teacher output a student can learn from, as flags: what a teacher signal provides and what a loss accepts.</summary>
[Flags]
public enum TeacherTargetKinds
{
    /// <summary>No teacher output (a loss with this value learns from the labels alone).</summary>
    None = 0,

    /// <summary>Dense logits: one value per class (or vocabulary entry) per row.</summary>
    DenseLogits = 1,

    /// <summary>A sparse top-k list per row: class indices and their logits or log-probabilities (a top-k cache, an API's top log-probabilities).</summary>
    TopK = 2,
}
