using KnowledgeDistillation.Kernels;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Teachers;

/// <summary>A teacher's outputs for one step as tensors (in the step's dispose scope).</summary>
/// <param name="DenseLogits">Logit rows <c>[rows, classes]</c>, or null.</param>
/// <param name="TopKIndices">Top-k class indices <c>[rows, k]</c> (int64), or null.</param>
/// <param name="TopKValues">Top-k values <c>[rows, k]</c>, or null.</param>
/// <param name="ValueKind">What <paramref name="TopKValues"/> are.</param>
/// <param name="Features">Named intermediate features.</param>
public sealed record TeacherTensors(Tensor? DenseLogits, Tensor? TopKIndices, Tensor? TopKValues, TopKValueKind ValueKind, IReadOnlyDictionary<string, Tensor> Features);
