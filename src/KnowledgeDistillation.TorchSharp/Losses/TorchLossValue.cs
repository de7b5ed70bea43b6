using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Losses;

/// <summary>The TorchSharp form's result: the differentiable loss, each term as a scalar tensor, and the hyper-parameters used.</summary>
/// <param name="Loss">The scalar to back-propagate.</param>
/// <param name="Terms">Each term's unweighted value, keyed as the fused-kernel form keys them.</param>
/// <param name="Parameters">The hyper-parameters in effect (α, T, weights).</param>
public readonly record struct TorchLossValue(Tensor Loss, IReadOnlyDictionary<string, Tensor> Terms, IReadOnlyDictionary<string, float> Parameters);
