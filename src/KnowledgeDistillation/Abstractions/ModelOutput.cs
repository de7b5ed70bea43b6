namespace KnowledgeDistillation.Abstractions;

/// <summary>What a teacher or student produced for one batch: logits and, on request, named intermediate outputs.</summary>
/// <param name="Logits">The logits, <c>[rows, classes]</c>.</param>
/// <param name="Intermediates">Named intermediate outputs (features, attention maps) that were requested; empty when none were.</param>
public sealed record ModelOutput(Float32Tensor Logits, IReadOnlyDictionary<string, Float32Tensor> Intermediates)
{
    /// <summary>Creates an output with logits only.</summary>
    public ModelOutput(Float32Tensor logits)
        : this(logits, EmptyIntermediates)
    {
    }

    private static readonly IReadOnlyDictionary<string, Float32Tensor> EmptyIntermediates = new Dictionary<string, Float32Tensor>();
}
