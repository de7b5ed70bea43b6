using KnowledgeDistillation.Data;
using KnowledgeDistillation.Datasets;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Schedules;
using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Text;
using KnowledgeDistillation.TorchSharp.Losses;
using KnowledgeDistillation.TorchSharp.LanguageModels;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.TorchSharp.Teachers;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.LanguageModels;

/// <summary>Language models trained through the one training core (<see cref="TorchDistiller"/>), on real text.</summary>
public sealed class LanguageModelTrainingTests : IDisposable
{
    private static readonly ByteTokenizer Bytes = ByteTokenizer.Instance;
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-lm-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Lazy<TokenStream[]> Corpus = new(() =>
    {
        // A small slice of the King James Bible (Debian package bible-kjv-text; eng/test.sh installs it).
        IReadOnlyList<string> verses = KingJamesBible.LoadVerses();
        TokenStream train = TokenStream.FromDocuments(verses.Take(300).Select(Bytes.Encode), Bytes.EndOfSequence);
        TokenStream heldOut = TokenStream.FromDocuments(verses.Skip(300).Take(40).Select(Bytes.Encode), Bytes.EndOfSequence);
        return [train, heldOut];
    });

    private static TokenWindowSource HeldOut => TokenWindowSource.Sequential(Corpus.Value[1], 32, Bytes.VocabularySize, Bytes.Padding);

    private static TokenWindowSource Windows(int steps, int batch = 8) => TokenWindowSource.Random(Corpus.Value[0], 32, Bytes.VocabularySize, steps * batch);

    private static DistillationOptions Options(int epochs = 1, int batch = 8, double lr = 1e-2) => new()
    {
        Epochs = epochs,
        BatchSize = batch,
        LearningRate = lr,
        WarmupFraction = 0.05,
        WeightDecay = 0.01,
        GradientClipNorm = 1.0,
        Seed = 1,
        Threads = 1,
    };

    // One small teacher trained once for the tests below (libtorch's RNG is seeded, so it is the same every run).
    private static readonly Lazy<TorchLanguageModel> TrainedTeacher = new(() =>
    {
        TorchLanguageModel teacher = TorchLanguageModel.Create(Model(1, 32), seed: 5, tokenizer: Bytes);
        new TorchDistiller(Options(), TorchLosses.HardLabel()).FitAsync(teacher, null, Windows(60)).GetAwaiter().GetResult();
        return teacher;
    });

    private static CausalLanguageModelOptions Model(int layers, int width) => new() { ContextLength = 32, Layers = layers, Heads = 2, Width = width };

    [Fact]
    public void Training_OnKjvText_LowersHeldOutPerplexityFarBelowTheUniform259()
    {
        using TorchLanguageModel untrained = TorchLanguageModel.Create(Model(1, 32), seed: 5);
        double before = untrained.Perplexity(HeldOut);
        double after = TrainedTeacher.Value.Perplexity(HeldOut);
        before.Should().BeGreaterThan(200, "an untrained model is near uniform over 259 ids");
        after.Should().BeLessThan(30, "60 steps learn the byte statistics of English text (a unigram byte model scores about 30)");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TokenLevelKd_MovesTheStudentTowardsTheTeacher(bool topK)
    {
        TorchLanguageModel teacher = TrainedTeacher.Value;
        using TorchLanguageModel student = TorchLanguageModel.Create(Model(1, 16), seed: 6, tokenizer: Bytes);
        ITeacherSignal<TokenBatch> signal = topK ? TeacherSignal.FromModel(teacher).TopK(20) : TeacherSignal.FromModel(teacher);
        var loss = new TokenDistillationLoss(Schedule.Constant(1f), Schedule.Constant(1f));
        var trainer = new TorchDistiller(Options(), loss);
        TokenBatch probe = Corpus.Value[1].Sample(new Random(9), 4, 32);
        async Task<float> KdToTeacher()
        {
            float value = (await trainer.ComputeGradientsAsync(student, signal, probe)).Terms["kd"];
            student.Model.zero_grad();
            return value;
        }

        float before = await KdToTeacher();
        DistillationHistory history = await trainer.FitAsync(student, signal, Windows(20), HeldOut);
        float after = await KdToTeacher();
        history.Epochs[^1].TrainLoss["kd"].Should().BeGreaterThan(0);
        after.Should().BeLessThan(before * 0.5f, $"{(topK ? "top-20" : "dense")}: the divergence to the teacher falls ({before} → {after})");
        if (!topK)
        {
            history.Epochs[^1].Metrics["val_kl_to_teacher"].Should().BeGreaterThan(0, "a dense teacher that computes gives held-out teacher metrics");
        }
        history.Epochs[^1].Metrics["val_loss"].Should().BeInRange(0.5, Math.Log(259));
    }

    [Fact]
    public async Task FourAccumulatedMicroBatches_GiveTheParameterGradientOfOneBatchFourTimesLarger()
    {
        TorchSharpRuntime.EnsureInitialized();
        using TorchLanguageModel teacher = TorchLanguageModel.Create(Model(1, 32), seed: 8);
        using TorchLanguageModel student = TorchLanguageModel.Create(Model(1, 16), seed: 9);
        var loss = new TokenDistillationLoss(Schedule.Constant(0.7f), Schedule.Constant(2f), new SequenceLossOptions { Kind = DivergenceKind.JensenShannon });
        var trainer = new TorchDistiller(Options(), loss);
        ITeacherSignal<TokenBatch> signal = TeacherSignal.FromModel(teacher);
        TokenBatch big = Corpus.Value[0].Sample(new Random(3), 8, 32);
        // Padding-like masks that differ per micro-batch, so per-micro-batch means would be wrong.
        for (int i = 0; i < big.Mask.Length; i++)
        {
            big.Mask[i] = (i / 64) switch { 0 => i % 5 == 0, 1 => true, 2 => i % 2 == 0, _ => i % 3 != 0 };
        }

        float[] Gradients()
        {
            float[] all = student.Model.parameters().SelectMany(p => p.grad!.data<float>().ToArray()).ToArray();
            student.Model.zero_grad();
            return all;
        }

        await trainer.ComputeGradientsAsync(student, signal, big, big.ValidTokens);
        float[] whole = Gradients();
        for (int m = 0; m < 4; m++)
        {
            var micro = new TokenBatch(
                big.Inputs.AsSpan(m * 64, 64).ToArray(), big.Targets.AsSpan(m * 64, 64).ToArray(), big.Mask.AsSpan(m * 64, 64).ToArray(), 2, 32);
            await trainer.ComputeGradientsAsync(student, signal, micro, big.ValidTokens);
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
    public async Task AKilledLanguageModelRun_ResumesFromItsCheckpoint_ToExactlyTheUninterruptedResult()
    {
        TorchLanguageModel teacher = TrainedTeacher.Value;
        ITeacherSignal<TokenBatch> signal = TeacherSignal.FromModel(teacher).TopK(8);
        DistillationOptions options = Options(epochs: 3, batch: 4);
        options.Temperature = "linear:2:1";
        TokenDistillationLoss Loss() => new(Schedule.Linear(0.9f, 0.5f), Schedule.Parse(options.Temperature));
        TokenWindowSource windows = Windows(steps: 5, batch: 4);

        using TorchLanguageModel uninterrupted = TorchLanguageModel.Create(Model(1, 16), seed: 11);
        DistillationHistory full = await new TorchDistiller(options, Loss()).FitAsync(uninterrupted, signal, windows, HeldOut);

        string checkpoints = Path.Combine(_dir, "lm-ckpt");
        using var kill = new CancellationTokenSource();
        using TorchLanguageModel interrupted = TorchLanguageModel.Create(Model(1, 16), seed: 11);
        var killer = new EpochAction(epoch => { if (epoch.Epoch == 1) { kill.Cancel(); } });
        Func<Task> first = () => new TorchDistiller(options, Loss(), [new CheckpointCallback(checkpoints), killer]).FitAsync(interrupted, signal, windows, HeldOut, cancellationToken: kill.Token);
        await first.Should().ThrowAsync<OperationCanceledException>();
        string latest = CheckpointCallback.FindLatest(checkpoints)!;
        Path.GetFileName(latest).Should().Be("epoch-0002.kdckpt", "the run was killed after its second epoch was checkpointed");

        using TorchLanguageModel resumed = TorchLanguageModel.Create(Model(1, 16), seed: 99);
        DistillationHistory rest = await new TorchDistiller(options, Loss()).FitAsync(resumed, signal, windows, HeldOut, resumeFrom: latest);

        rest.ResumedFromEpoch.Should().Be(2);
        rest.Epochs.Should().HaveCount(3);
        Weights(resumed).Should().Equal(Weights(uninterrupted), "the resumed run draws the same windows and takes the same steps");
        rest.Epochs[^1].TrainLoss["total"].Should().Be(full.Epochs[^1].TrainLoss["total"]);
        rest.Epochs[^1].Metrics["val_loss"].Should().Be(full.Epochs[^1].Metrics["val_loss"]);
        Weights(interrupted).Should().NotEqual(Weights(uninterrupted), "the killed run stopped short");
    }

    [Fact]
    public async Task DifferentTokenizers_WithoutAMapping_FailWithAClearMessage_AndCancellationStops()
    {
        using TorchLanguageModel teacher = TorchLanguageModel.Create(Model(1, 16), seed: 1, tokenizer: new OtherTokenizer());
        using TorchLanguageModel student = TorchLanguageModel.Create(Model(1, 16), seed: 2, tokenizer: Bytes);
        var trainer = new TorchDistiller(Options(), new TokenDistillationLoss(Schedule.Constant(0.5f), Schedule.Constant(1f)));
        Func<Task> different = () => trainer.FitAsync(student, TeacherSignal.FromModel(teacher), Windows(5));
        (await different.Should().ThrowAsync<ArgumentException>()).WithMessage("*'other'*'bytes-utf8-259'*TokenMapping*sequence-level*");
        Func<Task> noTeacher = () => trainer.FitAsync<TokenBatch>(student, null, Windows(5));
        (await noTeacher.Should().ThrowAsync<ArgumentException>()).WithMessage("*token-kd*no teacher was given*");
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        using TorchLanguageModel sameTokenizer = TorchLanguageModel.Create(Model(1, 16), seed: 1, tokenizer: Bytes);
        Func<Task> cancel = () => trainer.FitAsync(student, TeacherSignal.FromModel(sameTokenizer), Windows(5), cancellationToken: cancelled.Token);
        await cancel.Should().ThrowAsync<OperationCanceledException>();
    }

    private static float[] Weights(TorchLanguageModel model) => model.Model.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();

    private sealed class EpochAction(Action<EpochSummary> onEpoch) : IDistillationCallback
    {
        public void OnEpochCompleted(EpochSummary epoch, ITrainingControl control) => onEpoch(epoch);
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
