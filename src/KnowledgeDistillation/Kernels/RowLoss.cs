namespace KnowledgeDistillation.Kernels;

/// <summary>One row's loss terms, kept in double until the final reduction.</summary>
internal readonly record struct RowLoss(double Primary, double Secondary);
