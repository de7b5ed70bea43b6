using KnowledgeDistillation.Data;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.TorchSharp.Losses;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Tests.Models;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;
using TorchSharp;

namespace KnowledgeDistillation.TorchSharp.Tests.Training;

public sealed class TorchDistillerTests : IDisposable
{
    private static readonly int[] Image = [1, 28, 28];
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static DistillationOptions Options(int epochs = 2, int batch = 64, int seed = 7) => new()
    {
        Epochs = epochs,
        BatchSize = batch,
        Seed = seed,
        LearningRate = 2e-3,
        Temperature = "4",
        Alpha = "0.7",
        Threads = 1,
    };

    private static async Task<TorchModel> TrainedTeacherAsync(LabeledImageSet train)
    {
        TorchModel teacher = TorchModel.FromPreset("mlp:128", Image, 10, seed: 1);
        await new TorchDistiller(Options(epochs: 3), new HardLabelLoss()).FitAsync(teacher, null, train);
        return teacher;
    }

    [Fact]
    public async Task Fit_WithTeacher_LearnsAndReportsEveryTermAndMetric()
    {
        LabeledImageSet train = TestData.TrainSubset(2000), test = TestData.TestSubset(500);
        using TorchModel teacher = await TrainedTeacherAsync(train);
        using TorchModel student = TorchModel.FromPreset("mlp:32", Image, 10, seed: 2);

        DistillationHistory history = await new TorchDistiller(Options()).FitAsync(student, teacher, train, test);

        history.Epochs.Should().HaveCount(2);
        EpochSummary last = history.Epochs[^1];
        last.TrainLoss.Keys.Should().Contain(["total", "kd", "ce"]);
        last.Parameters.Keys.Should().Contain(["alpha", "temperature"], "hyper-parameters are reported apart from the loss terms");
        last.Parameters["alpha"].Should().BeApproximately(0.7, 1e-6);
        last.TrainLoss["total"].Should().BeApproximately((0.7 * last.TrainLoss["kd"]) + (0.3 * last.TrainLoss["ce"]), 1e-4);
        last.Metrics["val_accuracy"].Should().BeGreaterThan(0.65, "a student trained on 2,000 images for 2 epochs is far better than chance");
        last.Metrics["val_agreement"].Should().BeInRange(0.6, 1.0);
        last.Metrics["val_kl_to_teacher"].Should().BeGreaterThan(0);
        history.Epochs[1].TrainLoss["total"].Should().BeLessThan(history.Epochs[0].TrainLoss["total"]);
        last.Step.Should().Be(2 * 32);
    }

    [Fact]
    public async Task FusedCpuKernels_And_TorchOperations_GiveTheSameTraining()
    {
        LabeledImageSet train = TestData.TrainSubset(256);
        using TorchModel teacher = TorchModel.FromPreset("mlp:64", Image, 10, seed: 1);
        using TorchModel a = TorchModel.FromPreset("mlp:16", Image, 10, seed: 2);
        using TorchModel b = TorchModel.FromPreset("mlp:16", Image, 10, seed: 2);

        DistillationHistory ha = await new TorchDistiller(Options(epochs: 1)) { LossPath = LogitLossPath.FusedCpuKernels }.FitAsync(a, teacher, train);
        DistillationHistory hb = await new TorchDistiller(Options(epochs: 1)) { LossPath = LogitLossPath.TorchOperations }.FitAsync(b, teacher, train);

        ha.Epochs[0].TrainLoss["kd"].Should().BeApproximately(hb.Epochs[0].TrainLoss["kd"], 1e-4);
        ha.Epochs[0].TrainLoss["ce"].Should().BeApproximately(hb.Epochs[0].TrainLoss["ce"], 1e-4);
        float[] wa = ModelPresetsTests.Weights(a), wb = ModelPresetsTests.Weights(b);
        wa.Zip(wb, (x, y) => Math.Abs(x - y)).Max().Should().BeLessThan(1e-4f);
    }

    [Fact]
    public async Task GradientAccumulation_OfFourMicroBatches_EqualsOneBatchFourTimesLarger()
    {
        LabeledImageSet train = TestData.TrainSubset(128);
        using TorchModel teacher = TorchModel.FromPreset("mlp:32", Image, 10, seed: 1);
        using TorchModel big = TorchModel.FromPreset("mlp:16", Image, 10, seed: 3);
        using TorchModel accumulated = TorchModel.FromPreset("mlp:16", Image, 10, seed: 3);
        DistillationOptions sgd(int batch, int accumulate) => new()
        {
            Epochs = 1, BatchSize = batch, GradientAccumulationSteps = accumulate, Seed = 7, Optimizer = OptimizerKind.Sgd,
            Momentum = 0, WeightDecay = 0, LearningRate = 0.1, LearningRateSchedule = LearningRateScheduleKind.Constant, Threads = 1,
        };

        await new TorchDistiller(sgd(64, 1)).FitAsync(big, teacher, train);
        await new TorchDistiller(sgd(16, 4)).FitAsync(accumulated, teacher, train);

        float[] wa = ModelPresetsTests.Weights(big), wb = ModelPresetsTests.Weights(accumulated);
        wa.Zip(wb, (x, y) => Math.Abs(x - y)).Max().Should().BeLessThan(1e-5f);
        wa.Should().NotEqual(ModelPresetsTests.Weights(TorchModel.FromPreset("mlp:16", Image, 10, seed: 3)), "training changed the weights");
    }

    [Fact]
    public async Task ResumingAKilledRun_ReachesTheSameWeightsAsAnUninterruptedOne()
    {
        LabeledImageSet train = TestData.TrainSubset(512);
        using TorchModel teacher = TorchModel.FromPreset("mlp:64", Image, 10, seed: 1);
        DistillationOptions options = Options(epochs: 3);
        options.Temperature = "cosine:4:1";
        options.WarmupFraction = 0.1;
        options.GradientClipNorm = 1.0;

        using TorchModel uninterrupted = TorchModel.FromPreset("mlp:16:dropout=0.2", Image, 10, seed: 2);
        DistillationHistory full = await new TorchDistiller(options).FitAsync(uninterrupted, teacher, train);

        string checkpoints = Path.Combine(_dir, "ckpt");
        using var kill = new CancellationTokenSource();
        using TorchModel interrupted = TorchModel.FromPreset("mlp:16:dropout=0.2", Image, 10, seed: 2);
        var killer = new ActionCallback(epoch => { if (epoch.Epoch == 0) { kill.Cancel(); } });
        Func<Task> first = () => new TorchDistiller(options, callbacks: [new CheckpointCallback(checkpoints), killer]).FitAsync(interrupted, teacher, train, cancellationToken: kill.Token);
        await first.Should().ThrowAsync<OperationCanceledException>();

        string latest = CheckpointCallback.FindLatest(checkpoints)!;
        Path.GetFileName(latest).Should().Be("epoch-0001.kdckpt");
        using TorchModel resumed = TorchModel.FromPreset("mlp:16:dropout=0.2", Image, 10, seed: 99);
        DistillationHistory rest = await new TorchDistiller(options).FitAsync(resumed, teacher, train, resumeFrom: latest);

        rest.ResumedFromEpoch.Should().Be(1);
        rest.Epochs.Should().HaveCount(3);
        ModelPresetsTests.Weights(resumed).Should().Equal(ModelPresetsTests.Weights(uninterrupted));
        rest.Epochs[^1].TrainLoss["total"].Should().Be(full.Epochs[^1].TrainLoss["total"]);
    }

    [Fact]
    public async Task CorruptOrTruncatedCheckpoint_IsRejectedAndTheStudentIsUntouched()
    {
        LabeledImageSet train = TestData.TrainSubset(128);
        using TorchModel student = TorchModel.FromPreset("mlp:8", Image, 10, seed: 2);
        string dir = Path.Combine(_dir, "c");
        await new TorchDistiller(Options(epochs: 1), new HardLabelLoss(), [new CheckpointCallback(dir)]).FitAsync(student, null, train);
        string path = CheckpointCallback.FindLatest(dir)!;
        byte[] bytes = File.ReadAllBytes(path);

        string truncated = Path.Combine(_dir, "truncated.kdckpt");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        string flipped = Path.Combine(_dir, "flipped.kdckpt");
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(flipped, bytes);
        string notACheckpoint = Path.Combine(_dir, "text.kdckpt");
        File.WriteAllText(notACheckpoint, "hello");

        using TorchModel fresh = TorchModel.FromPreset("mlp:8", Image, 10, seed: 3);
        float[] before = ModelPresetsTests.Weights(fresh);
        foreach (string bad in new[] { truncated, flipped, notACheckpoint })
        {
            Func<Task> act = () => new TorchDistiller(Options(epochs: 2), new HardLabelLoss()).FitAsync(fresh, null, train, resumeFrom: bad);
            (await act.Should().ThrowAsync<InvalidDataException>()).WithMessage($"*{Path.GetFileName(bad)}*");
            ModelPresetsTests.Weights(fresh).Should().Equal(before);
        }
    }

    [Fact]
    public async Task TensorMemory_IsSteadyOverTenEpochs()
    {
        LabeledImageSet train = TestData.TrainSubset(256), test = TestData.TestSubset(100);
        using TorchModel teacher = TorchModel.FromPreset("cnn:4", Image, 10, seed: 1);
        using TorchModel student = TorchModel.FromPreset("mlp:8", Image, 10, seed: 2);
        var live = new List<long>();
        var probe = new ActionCallback(_ => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount));
        DistillationOptions options = Options(epochs: 10);
        options.GradientClipNorm = 5;

        await new TorchDistiller(options, callbacks: [probe]).FitAsync(student, teacher, train, test);

        live.Should().HaveCount(10);
        live.Skip(1).Should().AllBeEquivalentTo(live[1], "no tensor may leak from one epoch to the next");
    }

    [Fact]
    public async Task EarlyStopping_And_Budget_StopTraining_WithAReason()
    {
        LabeledImageSet train = TestData.TrainSubset(128), test = TestData.TestSubset(64);
        using TorchModel student = TorchModel.FromPreset("mlp:8", Image, 10, seed: 2);
        DistillationHistory history = await new TorchDistiller(Options(epochs: 20), new HardLabelLoss(), [new TrainingBudgetCallback(maxSteps: 5)])
            .FitAsync(student, null, train, test);
        history.Epochs.Should().HaveCount(3, "2 steps per epoch: the budget of 5 is spent after epoch 3");
        history.StopReason.Should().Contain("step budget of 5");

        // Early stopping: an improvement of more than 1 in accuracy is impossible, so the first epoch sets the best value and
        // the next one, with patience 1, stops the run.
        using TorchModel other = TorchModel.FromPreset("mlp:8", Image, 10, seed: 2);
        var early = new EarlyStoppingCallback("val_accuracy", patience: 1, minDelta: 1.0);
        DistillationHistory stopped = await new TorchDistiller(Options(epochs: 20), new HardLabelLoss(), [early]).FitAsync(other, null, train, test);
        stopped.Epochs.Should().HaveCount(2);
        stopped.StopReason.Should().StartWith("early stopping: val_accuracy did not improve");
        early.Best.Should().Be(stopped.Epochs[0].Metrics["val_accuracy"]);

        // A metric that no epoch reports is an error, not a silent run to the end.
        using TorchModel third = TorchModel.FromPreset("mlp:8", Image, 10, seed: 2);
        Func<Task> unknown = () => new TorchDistiller(Options(epochs: 3), new HardLabelLoss(), [new EarlyStoppingCallback("val_nothing")]).FitAsync(third, null, train, test);
        (await unknown.Should().ThrowAsync<InvalidOperationException>()).WithMessage("*val_nothing*Reported:*val_accuracy*");
    }

    [Fact]
    public async Task BadSetups_FailBeforeTraining_NamingTheProblem()
    {
        LabeledImageSet train = TestData.TrainSubset(64);
        using TorchModel student = TorchModel.FromPreset("mlp:8", Image, 10, seed: 2);
        using TorchModel fiveClassTeacher = TorchModel.FromPreset("mlp:8", Image, 5, seed: 2);
        float[] before = ModelPresetsTests.Weights(student);

        Func<Task> classMismatch = () => new TorchDistiller(Options()).FitAsync(student, fiveClassTeacher, train);
        (await classMismatch.Should().ThrowAsync<ArgumentException>()).WithMessage("*5 classes*student*10*");

        Func<Task> noTeacher = () => new TorchDistiller(Options()).FitAsync(student, null, train);
        (await noTeacher.Should().ThrowAsync<ArgumentException>()).WithMessage("*no teacher was given*");

        var empty = new LabeledImageSet([], [], 28, 28, 10, "empty");
        Func<Task> emptySet = () => new TorchDistiller(Options(), new HardLabelLoss()).FitAsync(student, null, empty);
        (await emptySet.Should().ThrowAsync<ArgumentException>()).WithMessage("*empty*");

        DistillationOptions badT = Options();
        badT.Temperature = "0";
        Action nonPositiveTemperature = () => _ = new TorchDistiller(badT);
        nonPositiveTemperature.Should().Throw<ArgumentException>().WithMessage("*Temperature*gives 0*positive*");

        DistillationOptions noSteps = Options();
        noSteps.Epochs = 0;
        Action noStepSchedule = () => _ = new TorchDistiller(noSteps);
        noStepSchedule.Should().Throw<ArgumentException>().WithMessage("*Epochs must be at least 1 (was 0)*");

        Action badLabel = () => _ = new LabeledImageSet(new float[784], [12], 28, 28, 10, "bad");
        badLabel.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*label 12 at index 0*");

        ModelPresetsTests.Weights(student).Should().Equal(before, "nothing trained");
    }

    [Theory]
    [InlineData(LogitLossPath.FusedCpuKernels)]
    [InlineData(LogitLossPath.TorchOperations)]
    public async Task ADivergingRun_StopsWithTrainingDivergedException_NamingTheStepAndTheLearningRate(LogitLossPath path)
    {
        LabeledImageSet train = TestData.TrainSubset(1000);
        using TorchModel student = TorchModel.FromPreset("mlp:8", Image, 10, seed: 0);
        var options = new DistillationOptions { Epochs = 2, BatchSize = 128, Seed = 0, LearningRate = 1e6, Threads = 1 };
        var trainer = new TorchDistiller(options, TorchLosses.HardLabel()) { LossPath = path };

        Func<Task> act = () => trainer.FitAsync(student, null, train);

        TrainingDivergedException diverged = (await act.Should().ThrowAsync<TrainingDivergedException>()).Which;
        diverged.TotalSteps.Should().Be(16);
        diverged.Step.Should().BeInRange(1, 16);
        diverged.Epoch.Should().Be(diverged.Step <= 8 ? 1 : 2);
        diverged.LearningRate.Should().Be(1e6);
        diverged.Message.Should().StartWith($"The loss diverged at step {diverged.Step} of 16 (epoch {diverged.Epoch})").And.Contain("lower it").And.NotContain("SkipFiniteCheck");
    }

    private sealed class ActionCallback(Action<EpochSummary> onEpoch) : IDistillationCallback
    {
        public void OnEpochCompleted(EpochSummary epoch, ITrainingControl control) => onEpoch(epoch);
    }
}
