using System.Globalization;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;

namespace KnowledgeDistillation.Sequences;

/// <summary>
/// The decisions every token-level loss makes the same way, in one place, used by the CPU kernels
/// (<see cref="SequenceDistillation"/>) and by the TorchSharp operations alike: which vocabulary is compared (padded output
/// rows, token mappings), what a sparse teacher's leftover mass becomes (<see cref="TopKMassPolicy"/>), and what the
/// summed loss is divided by (the valid tokens of the whole accumulated batch).
/// </summary>
public static class SequenceLossPolicy
{
    /// <summary>A log-probability that is zero in float arithmetic but finite, for teacher entries dropped from the comparison.</summary>
    public const float DroppedLogValue = -1e30f;

    /// <summary>
    /// The number of vocabulary entries compared: the mapping's student vocabulary, <see cref="SequenceLossOptions.VocabularySize"/>
    /// (output layers that differ by padded rows), or the common vocabulary when both are equal.
    /// </summary>
    /// <exception cref="ArgumentException">The vocabularies differ and nothing says how to compare them, or a size is too large (the message says what to set).</exception>
    public static int ComparedVocabulary(int studentVocabulary, int teacherVocabulary, SequenceLossOptions options, TokenMapping? mapping)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (mapping is not null)
        {
            if (mapping.StudentVocabularySize > studentVocabulary)
            {
                throw new ArgumentException(Format($"The token mapping targets {mapping.StudentVocabularySize} student tokens but student rows have {studentVocabulary} columns."), nameof(mapping));
            }

            return mapping.StudentVocabularySize;
        }

        int vocabulary = options.VocabularySize ?? (studentVocabulary == teacherVocabulary
            ? studentVocabulary
            : throw new ArgumentException(Format(
                $"Teacher vocabulary ({teacherVocabulary}) and student vocabulary ({studentVocabulary}) differ. If one output layer only has padded rows (same tokenizer), set SequenceLossOptions.VocabularySize to the real vocabulary size (for example {Math.Min(studentVocabulary, teacherVocabulary)}); if the tokenizers differ, supply a TokenMapping."),
                nameof(teacherVocabulary)));
        if (vocabulary > studentVocabulary || vocabulary > teacherVocabulary)
        {
            throw new ArgumentOutOfRangeException(nameof(options), vocabulary, Format($"SequenceLossOptions.VocabularySize = {vocabulary} exceeds the student ({studentVocabulary}) or teacher ({teacherVocabulary}) vocabulary; it must be at most {Math.Min(studentVocabulary, teacherVocabulary)}."));
        }

        return vocabulary;
    }

    /// <summary>What the summed loss is divided by: <paramref name="normalizer"/> (the valid tokens of the whole accumulated batch) or, when null, this call's valid tokens.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The normalizer is not finite and positive, or is smaller than this call's valid tokens.</exception>
    public static float Divisor(float? normalizer, long valid)
    {
        if (normalizer is { } n)
        {
            if (!float.IsFinite(n) || n <= 0f)
            {
                throw new ArgumentOutOfRangeException(nameof(normalizer), n, "normalizer must be finite and > 0: pass the number of valid tokens of the whole accumulated batch.");
            }

            if (n < valid)
            {
                throw new ArgumentOutOfRangeException(nameof(normalizer), n, Format($"normalizer ({n}) is smaller than this call's valid tokens ({valid}); it must count the valid tokens of the whole accumulated batch."));
            }

            return n;
        }

        return Math.Max(valid, 1);
    }

    /// <summary>True when the divergence compares the teacher's distribution against the student's full log-softmax (forward KL, soft CE, JSD with β = 0).</summary>
    public static bool IsForward(SequenceLossOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Kind is DivergenceKind.ForwardKl or DivergenceKind.SoftTargetCrossEntropy || (options.Kind == DivergenceKind.JensenShannon && options.JsdBeta == 0f);
    }

    /// <summary>The leftover-mass treatment for a sparse teacher with these values, checked: the extra bucket of reverse KL and JSD needs log-probabilities.</summary>
    /// <exception cref="ArgumentException">Reverse KL or JSD with the extra bucket against top-k logits.</exception>
    public static TopKMassTreatment Treatment(SequenceLossOptions options, TopKValueKind valueKind)
    {
        ArgumentNullException.ThrowIfNull(options);
        TopKMassTreatment treatment = TopKMassPolicy.Resolve(options.TopKTreatment, valueKind);
        if (!IsForward(options) && valueKind == TopKValueKind.Logits && treatment == TopKMassTreatment.ExtraBucket)
        {
            throw new ArgumentException(
                $"{options.Kind} with TopKMassTreatment.ExtraBucket needs the teacher's leftover mass, which top-k logits do not carry: pass log-probabilities (TopKValueKind.LogProbabilities) or use TopKMassTreatment.Renormalize.",
                nameof(valueKind));
        }

        return treatment;
    }

    /// <summary>The message for a teacher that puts more than the tolerance on ids outside the compared vocabulary.</summary>
    public static string ExtraMassMessage(string where, double mass, int vocabulary, float tolerance) => Format(
        $"{where}the teacher puts probability {mass:G4} on ids at or above the compared vocabulary size {vocabulary} (tolerance {tolerance:G4}). Those ids are real tokens, not padding: check SequenceLossOptions.VocabularySize, or supply a TokenMapping if the tokenizers differ.");

    private static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
