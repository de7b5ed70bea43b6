namespace KnowledgeDistillation.Kernels;

/// <summary>Which teacher–student divergence a fused kernel computes, all at temperature T on softmax(logits / T).</summary>
public enum DivergenceKind
{
    /// <summary>KL(p_teacher ‖ p_student), the Hinton distillation term (mean-seeking).</summary>
    ForwardKl = 0,

    /// <summary>KL(p_student ‖ p_teacher) (mode-seeking).</summary>
    ReverseKl = 1,

    /// <summary>Generalised Jensen–Shannon divergence JSD(β) as TRL's GKD defines it; β from <see cref="KernelOptions.JsdBeta"/>.</summary>
    JensenShannon = 2,

    /// <summary>Soft-target cross-entropy −Σ p_teacher log p_student (KL plus the teacher entropy; same gradient as forward KL).</summary>
    SoftTargetCrossEntropy = 3,
}
