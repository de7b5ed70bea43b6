namespace KnowledgeDistillation.Teachers;

/// <summary>How <see cref="EnsembleTeacher"/> combines its members' outputs.</summary>
public enum EnsembleCombination
{
    /// <summary>
    /// The weighted mixture of the members' softmax distributions, returned as log-probabilities (valid logits:
    /// their softmax is the mixture). The usual choice (Hinton et al. 2015 distil an ensemble's averaged predictions).
    /// </summary>
    AverageProbabilities,

    /// <summary>The weighted mean of the members' logits (a geometric mean of their distributions, renormalised).</summary>
    AverageLogits,
}
