using System.Globalization;
using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Sequences;

/// <summary>
/// Options of a token-level distillation loss over <c>[batch, sequence, vocabulary]</c> logits: which divergence, at which
/// temperature, over which vocabulary, and how a sparse top-k teacher's leftover mass is treated.
/// </summary>
public sealed class SequenceLossOptions
{
    /// <summary>The divergence. <value>The default value is <see cref="DivergenceKind.ForwardKl"/>.</value></summary>
    /// <remarks><see cref="DivergenceKind.SoftTargetCrossEntropy"/> is accepted for dense teachers (same gradient as forward KL).</remarks>
    public DivergenceKind Kind { get; set; } = DivergenceKind.ForwardKl;

    /// <summary>Softmax temperature T applied to the student and to dense teacher logits. <value>The default value is 1.</value></summary>
    public float Temperature { get; set; } = 1f;

    /// <summary>β of the generalised Jensen–Shannon divergence (0 = forward KL, 1 = reverse KL). <value>The default value is 0.5.</value></summary>
    public float JsdBeta { get; set; } = 0.5f;

    /// <summary>Multiply the loss (and gradient) by T², so gradients keep their size across temperatures (Hinton et al.). <value>The default value is true.</value></summary>
    public bool ScaleByTemperatureSquared { get; set; } = true;

    /// <summary>
    /// The number of vocabulary entries to compare over, when the teacher's and the student's output layers differ by padded
    /// rows (for example 152064 against 151936): the columns at and above it are ignored on both sides, after checking that
    /// the teacher puts no more than <see cref="ExtraMassTolerance"/> of its probability there. Null means both vocabularies
    /// must be equal. <value>The default value is null.</value>
    /// </summary>
    public int? VocabularySize { get; set; }

    /// <summary>
    /// The largest teacher probability (at temperature 1) allowed on the columns at and above <see cref="VocabularySize"/>, per
    /// token. More means the extra rows are real tokens, not padding, and the comparison would be wrong. <value>The default value is 1e-3.</value>
    /// </summary>
    public float ExtraMassTolerance { get; set; } = 1e-3f;

    /// <summary>
    /// What a sparse top-k teacher's mass outside its k entries becomes; null for the rule of
    /// <see cref="Losses.TopKMassPolicy"/> (the extra bucket for log-probabilities, renormalising for logits).
    /// <value>The default value is null.</value>
    /// </summary>
    public TopKMassTreatment? TopKTreatment { get; set; }

    /// <summary>Degree of parallelism of the CPU kernels (0/1 single-threaded, −1 all cores). <value>The default value is 1.</value></summary>
    public int MaxDegreeOfParallelism { get; set; } = 1;

    /// <summary>Checks every value for range and throws <see cref="ArgumentException"/> naming the property, its value and the fix.</summary>
    public void Validate()
    {
        if ((uint)Kind > (uint)DivergenceKind.SoftTargetCrossEntropy)
        {
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Kind must be ForwardKl, ReverseKl, JensenShannon or SoftTargetCrossEntropy.");
        }

        if (!float.IsFinite(Temperature) || Temperature <= 0f)
        {
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be finite and > 0; 1 compares the models' own distributions, 2 softens them.");
        }

        if (!(JsdBeta >= 0f && JsdBeta <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(JsdBeta), JsdBeta, "JsdBeta must be in [0, 1] (0 = forward KL, 1 = reverse KL).");
        }

        if (VocabularySize is { } v && v < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(VocabularySize), v, "VocabularySize must be ≥ 1, or null when teacher and student vocabularies are equal.");
        }

        if (!(ExtraMassTolerance >= 0f && ExtraMassTolerance < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(ExtraMassTolerance), ExtraMassTolerance, "ExtraMassTolerance must be in [0, 1).");
        }

        if (TopKTreatment is { } treatment && (uint)treatment > (uint)TopKMassTreatment.ExtraBucket)
        {
            throw new ArgumentOutOfRangeException(nameof(TopKTreatment), TopKTreatment, "TopKTreatment must be Renormalize or ExtraBucket.");
        }

        if (MaxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism, "MaxDegreeOfParallelism must be −1 (all cores), 0/1 (single-threaded) or a positive count.");
        }
    }

    /// <summary>A copy of these options.</summary>
    public SequenceLossOptions Clone() => (SequenceLossOptions)MemberwiseClone();

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Kind} T={Temperature} β={JsdBeta} T²={ScaleByTemperatureSquared} vocabulary={VocabularySize?.ToString(CultureInfo.InvariantCulture) ?? "equal"}");
}
