using FluentAssertions;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Sequences;

namespace KnowledgeDistillation.Tests.Sequences;

public sealed class SequenceDistillationTests
{
    private static float[] RandomLogits(Random random, int length, float scale = 3f) =>
        Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1) * scale).ToArray();

    private static bool[] RandomMask(Random random, int tokens)
    {
        bool[] mask = Enumerable.Range(0, tokens).Select(_ => random.NextDouble() < 0.6).ToArray();
        mask[0] = true;
        mask[^1] = false; // padding at the end, as batches of unequal sequences have
        return mask;
    }

    // Teacher top-k log-probabilities of a random teacher, the format API teachers and logit caches give.
    private static (int[] Indices, float[] Values) TopKLogProbabilities(float[] teacher, int tokens, int vocabulary, int k)
    {
        var indices = new int[tokens * k];
        var values = new float[tokens * k];
        DistillationPrimitives.TopK(teacher, vocabulary, k, indices, values);
        var logp = new float[teacher.Length];
        DistillationPrimitives.LogSoftmax(teacher, vocabulary, 1f, logp);
        for (int t = 0; t < tokens; t++)
        {
            for (int i = 0; i < k; i++)
            {
                values[(t * k) + i] = logp[(t * vocabulary) + indices[(t * k) + i]];
            }
        }

        return (indices, values);
    }

    public static TheoryData<DivergenceKind, float> DenseKinds() => new()
    {
        { DivergenceKind.ForwardKl, 1f },
        { DivergenceKind.ForwardKl, 2f },
        { DivergenceKind.ReverseKl, 2f },
        { DivergenceKind.JensenShannon, 2f },
        { DivergenceKind.SoftTargetCrossEntropy, 0.5f },
    };

    [Theory]
    [MemberData(nameof(DenseKinds))]
    public void Dense_MatchesTheDoubleReference_AndItsFiniteDifferenceGradient(DivergenceKind kind, float temperature)
    {
        var random = new Random(7 + (int)kind);
        const int tokens = 10, vocabulary = 9;
        float[] student = RandomLogits(random, tokens * vocabulary);
        float[] teacher = RandomLogits(random, tokens * vocabulary);
        bool[] mask = RandomMask(random, tokens);
        var options = new SequenceLossOptions { Kind = kind, Temperature = temperature, JsdBeta = 0.3f };
        var gradient = new float[student.Length];

        SequenceLossValue value = SequenceDistillation.DenseWithGradient(student, vocabulary, teacher, vocabulary, mask, options, gradient);

        int valid = mask.Count(m => m);
        value.ValidTokens.Should().Be(valid);
        double expected = SequenceReference.Dense(student, vocabulary, teacher, vocabulary, mask, vocabulary, kind, temperature, 0.3, valid);
        value.Loss.Should().BeApproximately((float)expected, (float)(1e-5 + (1e-4 * Math.Abs(expected))));
        double[] reference = SequenceReference.Gradient(student, s => SequenceReference.Dense(s, vocabulary, teacher, vocabulary, mask, vocabulary, kind, temperature, 0.3, valid));
        for (int i = 0; i < gradient.Length; i++)
        {
            gradient[i].Should().BeApproximately((float)reference[i], 2e-4f, $"element {i} (token {i / vocabulary})");
            if (!mask[i / vocabulary])
            {
                gradient[i].Should().Be(0f, "masked tokens get no gradient");
            }
        }
    }

    public static TheoryData<DivergenceKind, TopKMassTreatment> SparseKinds()
    {
        var data = new TheoryData<DivergenceKind, TopKMassTreatment>();
        foreach (DivergenceKind kind in new[] { DivergenceKind.ForwardKl, DivergenceKind.ReverseKl, DivergenceKind.JensenShannon, DivergenceKind.SoftTargetCrossEntropy })
        {
            data.Add(kind, TopKMassTreatment.ExtraBucket);
            data.Add(kind, TopKMassTreatment.Renormalize);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SparseKinds))]
    public void SparseTopK_MatchesTheDoubleReference_AndItsFiniteDifferenceGradient(DivergenceKind kind, TopKMassTreatment treatment)
    {
        var random = new Random(11 + ((int)kind * 3) + (int)treatment);
        const int tokens = 8, vocabulary = 12, k = 4;
        const float temperature = 1.5f;
        float[] student = RandomLogits(random, tokens * vocabulary);
        float[] teacher = RandomLogits(random, tokens * vocabulary);
        (int[] indices, float[] values) = TopKLogProbabilities(teacher, tokens, vocabulary, k);
        bool[] mask = RandomMask(random, tokens);
        var options = new SequenceLossOptions { Kind = kind, Temperature = temperature, JsdBeta = 0.4f, TopKTreatment = treatment };
        var gradient = new float[student.Length];
        const float normalizer = 13f;

        SequenceLossValue value = SequenceDistillation.SparseWithGradient(student, vocabulary, indices, values, k, TopKValueKind.LogProbabilities, mask, options, gradient, normalizer);

        double expected = SequenceReference.Sparse(student, vocabulary, indices, values, k, mask, kind, treatment, temperature, 0.4, normalizer);
        value.Loss.Should().BeApproximately((float)expected, (float)(1e-5 + (1e-4 * Math.Abs(expected))));
        double[] reference = SequenceReference.Gradient(student, s => SequenceReference.Sparse(s, vocabulary, indices, values, k, mask, kind, treatment, temperature, 0.4, normalizer));
        for (int i = 0; i < gradient.Length; i++)
        {
            gradient[i].Should().BeApproximately((float)reference[i], 2e-4f, $"element {i} (token {i / vocabulary})");
        }
    }

    [Fact]
    public void SparseWithAllClassesInTheTopK_EqualsTheDenseLoss_ForEveryDivergence()
    {
        var random = new Random(3);
        const int tokens = 6, vocabulary = 10;
        float[] student = RandomLogits(random, tokens * vocabulary);
        float[] teacher = RandomLogits(random, tokens * vocabulary);
        (int[] indices, float[] values) = TopKLogProbabilities(teacher, tokens, vocabulary, vocabulary);
        bool[] mask = RandomMask(random, tokens);
        foreach (DivergenceKind kind in new[] { DivergenceKind.ForwardKl, DivergenceKind.ReverseKl, DivergenceKind.JensenShannon })
        {
            var options = new SequenceLossOptions { Kind = kind, Temperature = 1f };
            var dense = new float[student.Length];
            var sparse = new float[student.Length];
            float d = SequenceDistillation.DenseWithGradient(student, vocabulary, teacher, vocabulary, mask, options, dense).Loss;
            float s = SequenceDistillation.SparseWithGradient(student, vocabulary, indices, values, vocabulary, TopKValueKind.LogProbabilities, mask, options, sparse).Loss;
            s.Should().BeApproximately(d, 1e-4f, kind.ToString());
            for (int i = 0; i < dense.Length; i++)
            {
                sparse[i].Should().BeApproximately(dense[i], 1e-4f, $"{kind} element {i}");
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FourMicroBatches_WithTheWholeBatchNormalizer_GiveTheGradientOfOneBatchFourTimesLarger(bool sparse)
    {
        var random = new Random(sparse ? 21 : 20);
        const int microTokens = 12, vocabulary = 16, k = 5;
        const int tokens = microTokens * 4;
        float[] student = RandomLogits(random, tokens * vocabulary);
        float[] teacher = RandomLogits(random, tokens * vocabulary);
        (int[] indices, float[] values) = TopKLogProbabilities(teacher, tokens, vocabulary, k);
        // Micro-batches with very different numbers of valid tokens: a per-micro-batch mean would weight them wrongly.
        bool[] mask = Enumerable.Range(0, tokens).Select(i => (i / microTokens) switch { 0 => i % 6 == 0, 1 => true, 2 => i % 2 == 0, _ => i % 3 != 0 }).ToArray();
        var options = new SequenceLossOptions { Kind = DivergenceKind.JensenShannon, Temperature = 2f };
        int valid = SequenceDistillation.CountValidTokens(mask);

        SequenceLossValue Run(Range rows, float? normalizer, float[] gradient)
        {
            (int offset, int length) = rows.GetOffsetAndLength(tokens);
            return sparse
                ? SequenceDistillation.SparseWithGradient(student.AsSpan(offset * vocabulary, length * vocabulary), vocabulary, indices.AsSpan(offset * k, length * k), values.AsSpan(offset * k, length * k), k, TopKValueKind.LogProbabilities, mask.AsSpan(offset, length), options, gradient.AsSpan(offset * vocabulary, length * vocabulary), normalizer)
                : SequenceDistillation.DenseWithGradient(student.AsSpan(offset * vocabulary, length * vocabulary), vocabulary, teacher.AsSpan(offset * vocabulary, length * vocabulary), vocabulary, mask.AsSpan(offset, length), options, gradient.AsSpan(offset * vocabulary, length * vocabulary), normalizer);
        }

        var full = new float[student.Length];
        SequenceLossValue whole = Run(.., null, full);
        var accumulated = new float[student.Length];
        double summed = 0;
        for (int m = 0; m < 4; m++)
        {
            summed += Run((m * microTokens)..((m + 1) * microTokens), valid, accumulated).Loss;
        }

        whole.Normalizer.Should().Be(valid);
        ((float)summed).Should().BeApproximately(whole.Loss, 1e-5f);
        for (int i = 0; i < full.Length; i++)
        {
            accumulated[i].Should().BeApproximately(full[i], 1e-7f, $"element {i}");
        }

        // The mistake the normalizer prevents: averaging per micro-batch gives a different gradient.
        var perMicroMean = new float[student.Length];
        for (int m = 0; m < 4; m++)
        {
            Run((m * microTokens)..((m + 1) * microTokens), null, perMicroMean);
        }

        perMicroMean.Zip(full, (a, b) => Math.Abs((a / 4) - b)).Max().Should().BeGreaterThan(1e-3f);
    }

    [Fact]
    public void PaddedTeacherRows_WithNegligibleMass_AreIgnored_AndGiveTheUnpaddedLoss()
    {
        var random = new Random(5);
        const int tokens = 7, vocabulary = 11, teacherVocabulary = 14, studentVocabulary = 12;
        float[] teacher = RandomLogits(random, tokens * vocabulary);
        float[] student = RandomLogits(random, tokens * vocabulary);
        bool[] mask = RandomMask(random, tokens);
        float[] paddedTeacher = Pad(teacher, tokens, vocabulary, teacherVocabulary, -40f);
        float[] paddedStudent = Pad(student, tokens, vocabulary, studentVocabulary, 5f);
        var options = new SequenceLossOptions { Kind = DivergenceKind.ReverseKl, Temperature = 2f, VocabularySize = vocabulary };
        var gradient = new float[student.Length];
        var paddedGradient = new float[paddedStudent.Length];

        float plain = SequenceDistillation.DenseWithGradient(student, vocabulary, teacher, vocabulary, mask, options, gradient).Loss;
        float padded = SequenceDistillation.DenseWithGradient(paddedStudent, studentVocabulary, paddedTeacher, teacherVocabulary, mask, options, paddedGradient).Loss;

        padded.Should().BeApproximately(plain, 1e-6f);
        for (int t = 0; t < tokens; t++)
        {
            paddedGradient.AsSpan(t * studentVocabulary, vocabulary).ToArray().Should().Equal(gradient.AsSpan(t * vocabulary, vocabulary).ToArray());
            paddedGradient[(t * studentVocabulary) + vocabulary].Should().Be(0f, "student columns beyond the compared vocabulary get no gradient");
        }
    }

    [Fact]
    public void PaddedTeacherRows_CarryingRealMass_ThrowAClearError()
    {
        var random = new Random(6);
        const int tokens = 3, vocabulary = 8, teacherVocabulary = 10;
        float[] teacher = Pad(RandomLogits(random, tokens * vocabulary), tokens, vocabulary, teacherVocabulary, 1f);
        float[] student = RandomLogits(random, tokens * vocabulary);
        var options = new SequenceLossOptions { VocabularySize = vocabulary };

        Action act = () => SequenceDistillation.DenseWithGradient(student, vocabulary, teacher, teacherVocabulary, new bool[tokens].Select(_ => true).ToArray(), options, new float[student.Length]);

        act.Should().Throw<InvalidOperationException>().WithMessage("*columns [8, 10)*tolerance*VocabularySize*TokenMapping*");
    }

    [Fact]
    public void SparseTeacherIdsBeyondTheVocabulary_WithRealMass_ThrowAClearError()
    {
        const int tokens = 2, vocabulary = 6, k = 2;
        float[] student = new float[tokens * vocabulary];
        int[] indices = [1, 7, 2, 3];
        float[] values = [MathF.Log(0.5f), MathF.Log(0.4f), MathF.Log(0.6f), MathF.Log(0.3f)];

        Action act = () => SequenceDistillation.SparseWithGradient(student, vocabulary, indices, values, k, TopKValueKind.LogProbabilities, [true, true], new SequenceLossOptions(), new float[student.Length]);

        act.Should().Throw<InvalidOperationException>().WithMessage("*Token 0*0.4*vocabulary size 6*");
    }

    [Fact]
    public void DifferentVocabularies_WithoutVocabularySizeOrMapping_ThrowAMessageNamingBothFixes()
    {
        Action act = () => SequenceDistillation.DenseWithGradient(new float[2 * 5], 5, new float[2 * 7], 7, [true, true], new SequenceLossOptions(), new float[10]);

        act.Should().Throw<ArgumentException>().WithMessage("*(7)*(5)*VocabularySize*TokenMapping*").Which.ParamName.Should().Be("teacherVocabulary");
    }

    [Fact]
    public void ATokenMapping_ThatPermutesIds_GivesTheLossOfTheTeacherPermutedByHand()
    {
        var random = new Random(8);
        const int tokens = 5, vocabulary = 7;
        float[] student = RandomLogits(random, tokens * vocabulary);
        float[] teacher = RandomLogits(random, tokens * vocabulary);
        int[] teacherToStudent = [3, 0, 6, 1, 5, 2, 4];
        var permuted = new float[teacher.Length];
        for (int t = 0; t < tokens; t++)
        {
            for (int i = 0; i < vocabulary; i++)
            {
                permuted[(t * vocabulary) + teacherToStudent[i]] = teacher[(t * vocabulary) + i];
            }
        }

        bool[] mask = RandomMask(random, tokens);
        var options = new SequenceLossOptions { Kind = DivergenceKind.ForwardKl, Temperature = 2f };
        var expectedGradient = new float[student.Length];
        var gradient = new float[student.Length];
        float expected = SequenceDistillation.DenseWithGradient(student, vocabulary, permuted, vocabulary, mask, options, expectedGradient).Loss;
        float mapped = SequenceDistillation.DenseWithGradient(student, vocabulary, teacher, vocabulary, mask, options, gradient, mapping: new TokenMapping(teacherToStudent, vocabulary)).Loss;

        mapped.Should().BeApproximately(expected, 1e-5f);
        for (int i = 0; i < gradient.Length; i++)
        {
            gradient[i].Should().BeApproximately(expectedGradient[i], 1e-6f);
        }
    }

    [Fact]
    public void AManyToOneMapping_AddsTheTeacherProbabilities()
    {
        // Teacher tokens 0 and 1 both map to student token 0: the student should match p_t(0) + p_t(1) there.
        float[] teacher = [1f, 0.5f, -1f, 2f];
        float[] student = [0.3f, -0.2f, 0.7f];
        var mapping = new TokenMapping([0, 0, 1, 2], 3);
        var gradient = new float[3];
        float loss = SequenceDistillation.DenseWithGradient(student, 3, teacher, 4, [true], new SequenceLossOptions(), gradient, mapping: mapping).Loss;

        double[] pt = SequenceReference.Softmax(teacher, 1);
        double[] merged = [pt[0] + pt[1], pt[2], pt[3]];
        double expected = SequenceReference.Divergence(merged, SequenceReference.Softmax(student, 1), DivergenceKind.ForwardKl, 0);
        loss.Should().BeApproximately((float)expected, 1e-5f);
    }

    [Fact]
    public void BadArguments_AreRejectedWithTheirNames()
    {
        var options = new SequenceLossOptions();
        Action shape = () => SequenceDistillation.DenseWithGradient(new float[7], 4, new float[8], 4, [true, true], options, new float[7]);
        shape.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("studentLogits");
        Action small = () => SequenceDistillation.DenseWithGradient(new float[8], 4, new float[8], 4, [true, true], options, new float[8], normalizer: 1f);
        small.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*whole accumulated batch*").Which.ParamName.Should().Be("normalizer");
        Action temperature = () => SequenceDistillation.DenseWithGradient(new float[8], 4, new float[8], 4, [true, true], new SequenceLossOptions { Temperature = 0 }, new float[8]);
        temperature.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("Temperature");
        Action logitsBucket = () => SequenceDistillation.SparseWithGradient(new float[8], 4, new int[2], new float[2], 1, TopKValueKind.Logits, [true, true], new SequenceLossOptions { Kind = DivergenceKind.ReverseKl, TopKTreatment = TopKMassTreatment.ExtraBucket }, new float[8]);
        logitsBucket.Should().Throw<ArgumentException>().WithMessage("*leftover mass*").Which.ParamName.Should().Be("valueKind");
    }

    [Fact]
    public void AllTokensMasked_GiveZeroLossAndZeroGradient()
    {
        var gradient = Enumerable.Repeat(9f, 8).ToArray();
        SequenceLossValue value = SequenceDistillation.DenseWithGradient(new float[8], 4, new float[8], 4, [false, false], new SequenceLossOptions(), gradient);
        value.Loss.Should().Be(0f);
        value.ValidTokens.Should().Be(0);
        gradient.Should().OnlyContain(g => g == 0f);
    }

    private static float[] Pad(float[] source, int tokens, int vocabulary, int padded, float value)
    {
        var result = new float[tokens * padded];
        for (int t = 0; t < tokens; t++)
        {
            source.AsSpan(t * vocabulary, vocabulary).CopyTo(result.AsSpan(t * padded));
            result.AsSpan((t * padded) + vocabulary, padded - vocabulary).Fill(value);
        }

        return result;
    }
}
