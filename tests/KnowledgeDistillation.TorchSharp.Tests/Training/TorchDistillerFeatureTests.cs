using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.TorchSharp.Features;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.Training;

public sealed class TorchDistillerFeatureTests
{
    private static readonly int[] Image = [1, 28, 28];
    private static readonly Lazy<TorchModel> Teacher = new(() =>
    {
        TorchModel teacher = TorchModel.FromPreset("cnn:8,16:bn", Image, 10, seed: 1);
        new TorchDistiller(Options(epochs: 1), new HardLabelLoss()).FitAsync(teacher, null, TestData.TrainSubset(1000)).GetAwaiter().GetResult();
        return teacher;
    });

    private static DistillationOptions Options(int epochs = 1, double weightDecay = 1e-4) => new()
    {
        Epochs = epochs,
        BatchSize = 64,
        Seed = 5,
        LearningRate = 3e-3,
        Temperature = "2",
        Alpha = "0.6",
        Threads = 1,
        WeightDecay = weightDecay,
    };

    [Fact]
    public async Task FeatureTerms_AreReportedSeparately_AndAddUpWithTheLogitTerms()
    {
        using TorchModel student = TorchModel.FromPreset("cnn:4,8", Image, 10, seed: 2);
        using var at = new AttentionTransferLoss([new("block1", "block1"), new("block2", "block2")]);
        using var sp = new SimilarityPreservingLoss([new("block2", "block2")]);

        DistillationHistory history = await new TorchDistiller(Options()) { FeatureLosses = [at, sp] }.FitAsync(student, Teacher.Value, TestData.TrainSubset(512));

        IReadOnlyDictionary<string, double> loss = history.Epochs[0].TrainLoss;
        loss.Keys.Should().Contain(["total", "kd", "ce", "at", "sp"]);
        loss["at"].Should().BePositive();
        loss["sp"].Should().BePositive();
        // Every term is a row-weighted mean, so the epoch means combine linearly like each step's total.
        loss["total"].Should().BeApproximately((0.6 * loss["kd"]) + (0.4 * loss["ce"]) + (1000 * loss["at"]) + (3000 * loss["sp"]), 1e-3 * loss["total"]);
    }

    [Fact]
    public async Task FeatureTerms_WithGradientAccumulation_MatchOneLargerBatch_OnBothLogitPaths()
    {
        LabeledImageSet train = TestData.TrainSubset(128);
        DistillationOptions sgd(int batch, int accumulate) => new()
        {
            Epochs = 1, BatchSize = batch, GradientAccumulationSteps = accumulate, Seed = 7, Optimizer = OptimizerKind.Sgd, Momentum = 0,
            WeightDecay = 0, LearningRate = 0.05, LearningRateSchedule = LearningRateScheduleKind.Constant, Temperature = "2", Alpha = "0.5", Threads = 1,
        };
        async Task<(float[] Weights, double At)> Train(int batch, int accumulate, LogitLossPath path)
        {
            using TorchModel student = TorchModel.FromPreset("cnn:4,8", Image, 10, seed: 3);
            using var at = new AttentionTransferLoss([new("block1", "block1"), new("block2", "block2")]);
            DistillationHistory h = await new TorchDistiller(sgd(batch, accumulate)) { FeatureLosses = [at], LossPath = path }.FitAsync(student, Teacher.Value, train);
            return (student.Module.parameters().SelectMany(p => p.detach().data<float>().ToArray()).ToArray(), h.Epochs[0].TrainLoss["at"]);
        }

        var big = await Train(64, 1, LogitLossPath.FusedCpuKernels);
        var accumulated = await Train(16, 4, LogitLossPath.FusedCpuKernels);
        var torchOps = await Train(64, 1, LogitLossPath.TorchOperations);

        big.Weights.Zip(accumulated.Weights, (x, y) => Math.Abs(x - y)).Max().Should().BeLessThan(1e-5f, "feature terms are averaged over the accumulated rows like the logit term");
        big.Weights.Zip(torchOps.Weights, (x, y) => Math.Abs(x - y)).Max().Should().BeLessThan(1e-4f, "the feature terms join either logit path's backward");
        accumulated.At.Should().BeApproximately(big.At, 1e-6);
    }

    [Fact]
    public async Task FitNets_AdaptersAreOptimisedWithTheStudent_AndNeverPartOfItsWeights()
    {
        using TorchModel student = TorchModel.FromPreset("cnn:4,8", Image, 10, seed: 2);
        using TorchModel fresh = TorchModel.FromPreset("cnn:4,8", Image, 10, seed: 3);
        using var hint = new FitNetHintLoss([new("block2", "block2")], weight: 1, kernelSize: 3);
        var atStart = new StartCallback(() => hint.Parameters[0].detach().clone());

        DistillationHistory history = await new TorchDistiller(Options(), callbacks: [atStart]) { FeatureLosses = [hint] }.FitAsync(student, Teacher.Value, TestData.TrainSubset(512));
        using Tensor afterTraining = hint.Parameters[0].detach().clone();
        using Tensor initial = atStart.Value!;

        history.Epochs[0].TrainLoss.Keys.Should().Contain(["fitnet", "kd", "ce"]);
        hint.Parameters[0].shape.Should().Equal(16, 8, 3, 3);
        initial.shape.Should().Equal(16, 8, 3, 3);
        torch.allclose(afterTraining, initial).Should().BeFalse("the optimizer updated the regressor");
        student.Module.parameters().Count().Should().Be(fresh.Module.parameters().Count(), "the regressor is not registered on the student");
        student.WeightsSizeInBytes().Should().Be(fresh.WeightsSizeInBytes());
        using var weights = new MemoryStream();
        student.SaveWeights(weights);
        weights.Position = 0;
        fresh.LoadWeights(weights); // strict: any extra (adapter) tensor would be rejected
    }

    [Fact]
    public async Task HintEpochs_TrainOnlyTheGuidedLayers_ThenTheFullLoss()
    {
        using TorchModel student = TorchModel.FromPreset("cnn:4,8", Image, 10, seed: 2);
        using var hint = new FitNetHintLoss([new("block1", "block1")]);
        var snapshots = new SnapshotCallback(student);

        DistillationHistory history = await new TorchDistiller(Options(epochs: 2, weightDecay: 0), callbacks: [snapshots]) { FeatureLosses = [hint], HintEpochs = 1 }
            .FitAsync(student, Teacher.Value, TestData.TrainSubset(256));

        history.Epochs[0].TrainLoss.Keys.Should().BeEquivalentTo(["total", "fitnet"], "stage 1 optimises the hint only");
        history.Epochs[0].TrainLoss["total"].Should().BeApproximately(history.Epochs[0].TrainLoss["fitnet"], 1e-6);
        history.Epochs[1].TrainLoss.Keys.Should().Contain(["fitnet", "kd", "ce"]);
        snapshots.Changed("block1").Should().Equal(true, true);
        // Layers after the guided layer wait for stage 2.
        snapshots.Changed("block2").Should().Equal(false, true);
        snapshots.Changed("logits").Should().Equal(false, true);
    }

    [Fact]
    public async Task BadFeatureSetups_AreRejectedBeforeTraining()
    {
        using TorchModel student = TorchModel.FromPreset("cnn:4,8", Image, 10, seed: 2);
        LabeledImageSet data = TestData.TrainSubset(64);

        Func<Task> unknownStudentLayer = () => new TorchDistiller(Options()) { FeatureLosses = [new AttentionTransferLoss([new("layer3", "block1")])] }.FitAsync(student, Teacher.Value, data);
        Func<Task> unknownTeacherLayer = () => new TorchDistiller(Options()) { FeatureLosses = [new AttentionTransferLoss([new("block1", "block7")])] }.FitAsync(student, Teacher.Value, data);
        Func<Task> noTeacher = () => new TorchDistiller(Options(), new HardLabelLoss()) { FeatureLosses = [new SimilarityPreservingLoss([new("block1", "block1")])] }.FitAsync(student, null, data);
        Func<Task> hintTooLong = () => new TorchDistiller(Options(epochs: 2)) { FeatureLosses = [new FitNetHintLoss([new("block1", "block1")])], HintEpochs = 2 }.FitAsync(student, Teacher.Value, data);

        await unknownStudentLayer.Should().ThrowAsync<ArgumentException>().WithMessage("*student*'layer3'*block1, block2, flatten, logits*");
        await unknownTeacherLayer.Should().ThrowAsync<ArgumentException>().WithMessage("*teacher*'block7'*");
        await noTeacher.Should().ThrowAsync<ArgumentException>().WithParameterName("teacher");
        await hintTooLong.Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("HintEpochs");
    }

    [Fact]
    public async Task NonTorchTeacher_ProvidesFeaturesThroughIntermediates()
    {
        using TorchModel student = TorchModel.FromPreset("cnn:4,8", Image, 10, seed: 2);
        using var at = new AttentionTransferLoss([new("block2", "block2")]);
        var teacher = new WrappedTeacher(Teacher.Value);

        DistillationHistory history = await new TorchDistiller(Options()) { FeatureLosses = [at] }.FitAsync(student, teacher, TestData.TrainSubset(256));

        history.Epochs[0].TrainLoss["at"].Should().BePositive();
        teacher.RequestedIntermediates.Should().Contain("block2");
    }

    /// <summary>An ITeacher that is not a TorchModel (as an ONNX or remote teacher would be).</summary>
    private sealed class WrappedTeacher(TorchModel inner) : ITeacher
    {
        public HashSet<string> RequestedIntermediates { get; } = [];

        public ModelMetadata Metadata => inner.Metadata;

        public ValueTask<ModelOutput> InferAsync(Float32Tensor inputs, IReadOnlyCollection<string>? intermediates = null, CancellationToken cancellationToken = default)
        {
            RequestedIntermediates.UnionWith(intermediates ?? []);
            return inner.InferAsync(inputs, intermediates, cancellationToken);
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    /// <summary>Evaluates a function when training starts (after the adapters exist, before the first step).</summary>
    private sealed class StartCallback(Func<Tensor> read) : IDistillationCallback
    {
        public Tensor? Value { get; private set; }

        public void OnTrainingStarted(int startEpoch, int epochs, ITrainingControl control) => Value = read();
    }

    /// <summary>Records, per epoch, whether each top-level layer's parameters changed.</summary>
    private sealed class SnapshotCallback(TorchModel student) : IDistillationCallback
    {
        private readonly Dictionary<string, List<bool>> _changed = [];
        private Dictionary<string, float[]> _last = Snapshot(student);

        public IReadOnlyList<bool> Changed(string layer) => _changed[layer];

        public void OnEpochCompleted(EpochSummary epoch, ITrainingControl control)
        {
            Dictionary<string, float[]> now = Snapshot(student);
            foreach ((string layer, float[] values) in now)
            {
                if (!_changed.TryGetValue(layer, out List<bool>? list))
                {
                    _changed[layer] = list = [];
                }
                list.Add(!values.SequenceEqual(_last[layer]));
            }
            _last = now;
        }

        private static Dictionary<string, float[]> Snapshot(TorchModel model) =>
            model.Module.named_parameters()
                .GroupBy(p => p.name.Split('.').First(s => s.StartsWith("block", StringComparison.Ordinal) || s == "logits"))
                .ToDictionary(g => g.Key, g => g.SelectMany(p => p.parameter.detach().data<float>().ToArray()).ToArray());
    }
}
