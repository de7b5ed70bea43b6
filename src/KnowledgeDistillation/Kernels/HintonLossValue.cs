namespace KnowledgeDistillation.Kernels;

/// <summary>Per-batch value of the Hinton objective and its two parts (each already divided by the normalizer).</summary>
/// <param name="Total">alpha · Distillation + (1 − alpha) · HardLabel.</param>
/// <param name="Distillation">T² · Σ_rows KL(softmax(t/T) ‖ softmax(s/T)) / normalizer.</param>
/// <param name="HardLabel">Σ_rows CE(label, softmax(s)) / normalizer, at temperature 1.</param>
public readonly record struct HintonLossValue(float Total, float Distillation, float HardLabel);
