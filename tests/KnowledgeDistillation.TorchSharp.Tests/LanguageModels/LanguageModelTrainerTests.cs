using FluentAssertions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Datasets;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.Text;
using KnowledgeDistillation.TorchSharp.LanguageModels;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.LanguageModels;

public sealed class LanguageModelTrainerTests
{
    private static readonly Lazy<TokenStream[]> Corpus = new(() =>
    {
        // A small slice of the King James Bible (Debian package bible-kjv-text; eng/test.sh installs it).
        IReadOnlyList<string> verses = KingJamesBible.LoadVerses();
        ByteTokenizer tokenizer = ByteTokenizer.Instance;
        TokenStream train = TokenStream.FromDocuments(verses.Take(300).Select(tokenizer.Encode), tokenizer.EndOfSequence);
        TokenStream heldOut = TokenStream.FromDocuments(verses.Skip(300).Take(40).Select(tokenizer.Encode), tokenizer.EndOfSequence);
        return [train, heldOut];
    });

    // One small teacher trained once for the tests below (libtorch's RNG is seeded, so it is the same every run).
    private static readonly Lazy<CausalLanguageModel> TrainedTeacher = new(() =>
    {
        TorchSharpRuntime.EnsureInitialized();
        torch.manual_seed(5);
        var teacher = new CausalLanguageModel(Model(1, 32));
        new LanguageModelTrainer(new LanguageModelTrainingOptions { Steps = 60, BatchSize = 8, SequenceLength = 32, LearningRate = 1e-2, ReportEvery = 0 }).Fit(teacher, Corpus.Value[0]);
        return teacher;
    });

    private static CausalLanguageModelOptions Model(int layers, int width) => new() { ContextLength = 32, Layers = layers, Heads = 2, Width = width };

    [Fact]
    public void KingJamesBible_LoadsThe31102Verses()
    {
        IReadOnlyList<string> verses = KingJamesBible.LoadVerses();
        verses.Should().HaveCount(31102);
        verses[0].Should().Be("In the beginning God created the heaven and the earth.");
        verses[^1].Should().EndWith("be with you all. Amen.");
    }

    [Fact]
    public void Training_OnKjvText_LowersHeldOutPerplexityFarBelowTheUniform259()
    {
        TorchSharpRuntime.EnsureInitialized();
        torch.manual_seed(5);
        using var untrained = new CausalLanguageModel(Model(1, 32));
        TokenStream heldOut = Corpus.Value[1];
        double before = LanguageModelTrainer.Perplexity(untrained, heldOut, 32, ByteTokenizer.Instance.Padding);
        double after = LanguageModelTrainer.Perplexity(TrainedTeacher.Value, heldOut, 32, ByteTokenizer.Instance.Padding);
        before.Should().BeGreaterThan(200, "an untrained model is near uniform over 259 ids");
        after.Should().BeLessThan(30, "60 steps learn the byte statistics of English text (a unigram byte model scores about 30)");
    }

    [Theory]
    [InlineData(LanguageModelTeacherMode.DenseLogits)]
    [InlineData(LanguageModelTeacherMode.SparseTopK)]
    public void TokenLevelKd_MovesTheStudentTowardsTheTeacher(LanguageModelTeacherMode mode)
    {
        TorchSharpRuntime.EnsureInitialized();
        CausalLanguageModel teacher = TrainedTeacher.Value;
        torch.manual_seed(6);
        using var student = new CausalLanguageModel(Model(1, 16));
        var options = new LanguageModelTrainingOptions { Steps = 20, BatchSize = 8, SequenceLength = 32, LearningRate = 1e-2, TeacherMode = mode, Alpha = 1f, TopK = 20, ReportEvery = 0 };
        var trainer = new LanguageModelTrainer(options);
        TokenBatch probe = Corpus.Value[1].Sample(new Random(9), 4, 32);
        float KdToTeacher()
        {
            float value = trainer.MicroStep(student, teacher, probe, probe.ValidTokens).Distillation;
            foreach (var p in student.parameters())
            {
                using Tensor? g = p.grad;
                g?.zero_();
            }

            return value;
        }

        float before = KdToTeacher();
        LanguageModelProgress last = trainer.Fit(student, Corpus.Value[0], teacher, ByteTokenizer.Instance, ByteTokenizer.Instance);
        float after = KdToTeacher();
        last.Distillation.Should().BeGreaterThan(0f);
        after.Should().BeLessThan(before * 0.5f, $"{mode}: the divergence to the teacher falls ({before} → {after})");
    }

    [Fact]
    public void FourAccumulatedMicroBatches_GiveTheParameterGradientOfOneBatchFourTimesLarger()
    {
        TorchSharpRuntime.EnsureInitialized();
        torch.manual_seed(8);
        using var teacher = new CausalLanguageModel(Model(1, 32));
        using var student = new CausalLanguageModel(Model(1, 16));
        var trainer = new LanguageModelTrainer(new LanguageModelTrainingOptions
        {
            SequenceLength = 32, TeacherMode = LanguageModelTeacherMode.DenseLogits, Alpha = 0.7f,
            Loss = new SequenceLossOptions { Kind = DivergenceKind.JensenShannon, Temperature = 2f },
        });
        TokenBatch big = Corpus.Value[0].Sample(new Random(3), 8, 32);
        // Padding-like masks that differ per micro-batch, so per-micro-batch means would be wrong.
        for (int i = 0; i < big.Mask.Length; i++)
        {
            big.Mask[i] = (i / 64) switch { 0 => i % 5 == 0, 1 => true, 2 => i % 2 == 0, _ => i % 3 != 0 };
        }

        float[] Gradients()
        {
            float[] all = student.parameters().SelectMany(p => p.grad!.data<float>().ToArray()).ToArray();
            foreach (var p in student.parameters())
            {
                using Tensor? g = p.grad;
                g?.zero_();
            }

            return all;
        }

        trainer.MicroStep(student, teacher, big, big.ValidTokens);
        float[] whole = Gradients();
        for (int m = 0; m < 4; m++)
        {
            var micro = new TokenBatch(
                big.Inputs.AsSpan(m * 64, 64).ToArray(), big.Targets.AsSpan(m * 64, 64).ToArray(), big.Mask.AsSpan(m * 64, 64).ToArray(), 2, 32);
            trainer.MicroStep(student, teacher, micro, big.ValidTokens);
        }

        float[] accumulated = Gradients();
        float scale = whole.Max(Math.Abs);
        scale.Should().BeGreaterThan(0f);
        for (int i = 0; i < whole.Length; i++)
        {
            accumulated[i].Should().BeApproximately(whole[i], 1e-4f * scale, $"parameter element {i}");
        }
    }

    [Fact]
    public void DifferentTokenizers_WithoutAMapping_FailWithAClearMessage_AndCancellationStops()
    {
        TorchSharpRuntime.EnsureInitialized();
        using var teacher = new CausalLanguageModel(Model(1, 16));
        using var student = new CausalLanguageModel(Model(1, 16));
        var trainer = new LanguageModelTrainer(new LanguageModelTrainingOptions { Steps = 5, SequenceLength = 32, TeacherMode = LanguageModelTeacherMode.DenseLogits });
        Action different = () => trainer.Fit(student, Corpus.Value[0], teacher, ByteTokenizer.Instance, new OtherTokenizer());
        different.Should().Throw<ArgumentException>().WithMessage("*'other'*'bytes-utf8-259'*TokenMapping*sequence-level*");
        Action noTeacher = () => trainer.Fit(student, Corpus.Value[0]);
        noTeacher.Should().Throw<ArgumentNullException>().WithMessage("*TeacherMode is DenseLogits*");
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Action cancel = () => trainer.Fit(student, Corpus.Value[0], teacher, cancellationToken: cancelled.Token);
        cancel.Should().Throw<OperationCanceledException>();
    }

    private sealed class OtherTokenizer : ITextTokenizer
    {
        public string Name => "other";

        public int VocabularySize => 259;

        public int BeginOfSequence => 256;

        public int EndOfSequence => 257;

        public int Padding => 258;

        public int[] Encode(string text) => ByteTokenizer.Instance.Encode(text);

        public string Decode(ReadOnlySpan<int> tokens) => ByteTokenizer.Instance.Decode(tokens);
    }
}
