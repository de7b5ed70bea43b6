namespace KnowledgeDistillation.Losses;

/// <summary>
/// A logit-level loss computed on the CPU with its gradient in the same call (fused kernels), so a trainer needs
/// no autograd for the logit term. Compose several with <see cref="CompositeDistillationLoss"/>.
/// </summary>
public interface IDistillationLoss
{
    /// <summary>A short name used as the key of this loss in logs and histories (for example <c>kd</c>).</summary>
    string Name { get; }

    /// <summary>True when the loss needs teacher logits.</summary>
    bool RequiresTeacher { get; }

    /// <summary>Computes the loss and writes d(loss)/d(student logits) into <paramref name="studentGradient"/> (overwriting it).</summary>
    /// <exception cref="ArgumentException">Shapes do not agree, a label is out of range, or teacher logits are missing while required.</exception>
    LossValue Compute(in LossInputs inputs, Span<float> studentGradient);
}
