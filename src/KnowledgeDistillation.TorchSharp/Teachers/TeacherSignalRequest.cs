using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Teachers;

/// <summary>What the trainer needs from a teacher for one step.</summary>
/// <param name="Targets">Whether logit targets are needed (false in a FitNets hint stage, or for a loss that needs no teacher).</param>
/// <param name="Features">The intermediate features needed (by the feature losses); empty for none.</param>
/// <param name="Device">The student's device, where tensors are wanted.</param>
public sealed record TeacherSignalRequest(bool Targets, IReadOnlyCollection<string> Features, Device Device);
