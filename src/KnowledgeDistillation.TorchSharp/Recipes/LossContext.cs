using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Schedules;
using KnowledgeDistillation.Sequences;

namespace KnowledgeDistillation.TorchSharp.Recipes;

/// <summary>What a loss factory of the <see cref="LossRegistry"/> builds from: the recipe's schedules, the spec's parameters, and what the teacher provides.</summary>
/// <param name="Spec">The loss as named in the recipe, with its parameters.</param>
/// <param name="Alpha">The weight of the distillation term (the hard-label term gets 1 − α where a loss has one).</param>
/// <param name="Temperature">The softmax temperature.</param>
public sealed record LossContext(RecipeSpec Spec, ISchedule Alpha, ISchedule Temperature)
{
    /// <summary>The target forms the teacher gives (a top-k cache gives <see cref="TeacherTargetKinds.TopK"/> only). <value>The default value is <see cref="TeacherTargetKinds.DenseLogits"/>.</value></summary>
    public TeacherTargetKinds TeacherProvides { get; init; } = TeacherTargetKinds.DenseLogits;

    /// <summary>Entries per row of a top-k teacher (0 when dense). <value>The default value is 0.</value></summary>
    public int TeacherTopK { get; init; }

    /// <summary>Teacher → student token ids for language models with different tokenizers. <value>The default value is null.</value></summary>
    public TokenMapping? TokenMapping { get; init; }
}
