namespace KnowledgeDistillation.Onnx.Export.Layers;

/// <summary>Pooling reductions.</summary>
public enum PoolKind
{
    /// <summary>Maximum.</summary>
    Max,

    /// <summary>Average.</summary>
    Average,
}
