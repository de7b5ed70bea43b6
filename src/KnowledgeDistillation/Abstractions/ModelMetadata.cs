namespace KnowledgeDistillation.Abstractions;

/// <summary>Describes a teacher or student.</summary>
/// <param name="Name">A human-readable identifier (for example a preset name or a file name).</param>
/// <param name="ClassCount">The number of output classes (the logits' last dimension).</param>
/// <param name="ParameterCount">The number of parameters, when known.</param>
/// <param name="IntermediateNames">The intermediate outputs that can be requested by name.</param>
public sealed record ModelMetadata(string Name, int ClassCount, long? ParameterCount, IReadOnlyList<string> IntermediateNames)
{
    /// <summary>
    /// What the output classes mean, when a model says: for a language model the name of its tokenizer (two models with
    /// different tokenizers give ids that mean different tokens). Null when unspecified. <value>The default value is null.</value>
    /// </summary>
    public string? Vocabulary { get; init; }
}
