namespace KnowledgeDistillation.Datasets;

/// <summary>A data set split.</summary>
public enum DataSplit
{
    /// <summary>The training split.</summary>
    Train,

    /// <summary>The held-out test split.</summary>
    Test,
}
