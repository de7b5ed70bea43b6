using KnowledgeDistillation.TorchSharp.Features;

namespace KnowledgeDistillation.TorchSharp.Recipes;

/// <summary>Options a feature method is built with.</summary>
public sealed record FeatureMethodOptions
{
    /// <summary>The weight of the term; null for the method's default (at 1000, fitnet 1, sp 3000, rkd 1). <value>The default value is null.</value></summary>
    public float? Weight { get; init; }

    /// <summary>The attention-transfer convention. <value>The default value is <see cref="AttentionTransferMode.AuthorsCode"/>.</value></summary>
    public AttentionTransferMode AttentionMode { get; init; } = AttentionTransferMode.AuthorsCode;
}
