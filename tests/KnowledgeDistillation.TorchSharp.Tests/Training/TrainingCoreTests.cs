using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Schedules;
using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.TorchSharp.Losses;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Teachers;
using KnowledgeDistillation.TorchSharp.Tests.Models;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;

namespace KnowledgeDistillation.TorchSharp.Tests.Training;

/// <summary>
/// The training core's contracts: a new teacher kind and a new loss are one class each (the worked example of
/// docs/architecture.md, compiled and run here), a path a loss cannot take is refused before training, and what a
/// teacher gives is checked against what the loss accepts.
/// </summary>
public sealed class TrainingCoreTests
{
    private static readonly int[] Image = [1, 28, 28];

    private static DistillationOptions Options(int epochs = 1) => new() { Epochs = epochs, BatchSize = 64, Seed = 3, LearningRate = 2e-3, Temperature = "2", Alpha = "0.7", Threads = 1 };

    // --- The worked example of docs/architecture.md: a teacher kind and a loss, one class each. ---

    /// <summary>A teacher kind: label smoothing seen as a teacher (Yuan et al. 2020, "teacher-free KD").</summary>
    private sealed class LabelSmoothingTeacher(int classCount, float smoothing) : ITeacherSignal<Batch>
    {
        public ModelMetadata Metadata { get; } = new($"label smoothing {smoothing}", classCount, null, []);

        public TeacherTargetKinds Provides => TeacherTargetKinds.DenseLogits;

        public bool IsPrecomputed => false;

        public void EnsureCompatible(IBatchSource<Batch> data, string parameterName)
        {
            if (data.ClassCount != classCount)
            {
                throw new ArgumentException($"The data has {data.ClassCount} classes, the teacher {classCount}.", parameterName);
            }
        }

        public ValueTask<TeacherStepTargets> FetchAsync(Batch batch, TeacherSignalRequest request, CancellationToken cancellationToken = default)
        {
            // Logits whose softmax puts 1 − ε on the label and ε / (C − 1) on every other class.
            float on = MathF.Log(1 - smoothing), off = MathF.Log(smoothing / (classCount - 1));
            var logits = new float[batch.Labels.Length * classCount];
            for (int r = 0; r < batch.Labels.Length; r++)
            {
                logits.AsSpan(r * classCount, classCount).Fill(off);
                logits[(r * classCount) + batch.Labels[r]] = on;
            }
            return ValueTask.FromResult(TeacherStepTargets.FromCpu(TeacherTargets.Dense(new Float32Tensor(logits, batch.Labels.Length, classCount))));
        }
    }

    /// <summary>A loss: logit matching (Ba &amp; Caruana 2014), ½‖s − t‖² per row, averaged over the rows.</summary>
    private sealed class LogitMatchingLoss : IDistillationLoss
    {
        public string Name => "logit-mse";

        public TeacherTargetKinds AcceptedTargets => TeacherTargetKinds.DenseLogits;

        public LossValue Compute(in LossInputs inputs, Span<float> studentGradient)
        {
            if (inputs.HasPartialMask)
            {
                return MaskedRows.Compute(this, inputs, studentGradient);
            }
            float n = inputs.Normalizer ?? inputs.Rows;
            double sum = 0;
            for (int i = 0; i < studentGradient.Length; i++)
            {
                float d = inputs.StudentLogits[i] - inputs.TeacherLogits[i];
                sum += 0.5 * d * d;
                studentGradient[i] = d / n;
            }
            return new LossValue((float)(sum / n), new Dictionary<string, float> { ["logit-mse"] = (float)(sum / n) });
        }
    }

    [Fact]
    public async Task ANewTeacherKindAndANewLoss_TrainThroughTheUnchangedTrainer()
    {
        LabeledImageSet train = TestData.TrainSubset(2000), test = TestData.TestSubset(200);
        using TorchModel student = TorchModel.FromPreset("mlp:32", Image, 10, seed: 2);
        DistillationOptions options = Options(epochs: 3);
        options.LearningRate = 1e-2;

        DistillationHistory history = await new TorchDistiller(options, new LogitMatchingLoss())
            .FitAsync(student, new LabelSmoothingTeacher(10, 0.1f), train, test);

        history.Epochs[^1].TrainLoss.Keys.Should().Contain("logit-mse");
        history.Epochs[^1].TrainLoss["logit-mse"].Should().BeLessThan(history.Epochs[0].TrainLoss["logit-mse"]);
        history.Epochs[^1].Metrics["val_accuracy"].Should().BeGreaterThan(0.5, "matching smoothed one-hot logits teaches the labels");
        history.Epochs[^1].Metrics["val_agreement"].Should().BeGreaterThan(0.5, "a teacher that computes gives held-out agreement");
    }

    // --- Paths a loss cannot take are refused before training. ---

    [Fact]
    public async Task TorchOperations_WithALossThatHasNoTorchForm_IsRefusedNamingTheLossAndThePath()
    {
        LabeledImageSet train = TestData.TrainSubset(64);
        using TorchModel teacher = TorchModel.FromPreset("mlp:8", Image, 10, seed: 1);
        using TorchModel student = TorchModel.FromPreset("mlp:8", Image, 10, seed: 2);
        float[] before = ModelPresetsTests.Weights(student);

        Func<Task> kernelOnly = () => new TorchDistiller(Options(), new HintonDistillationLoss(0.7f, 2f)) { LossPath = LogitLossPath.TorchOperations }.FitAsync(student, teacher, train);
        (await kernelOnly.Should().ThrowAsync<ArgumentException>()).WithMessage("*TorchOperations*'hinton' (HintonDistillationLoss) has no TorchSharp-operations form*FusedCpuKernels*");

        IDistillationLoss dkd = TorchLosses.Composite([(new DecoupledKdLoss(1, 8, Schedule.Constant(4)), Schedule.Constant(1)), (TorchLosses.HardLabel(), Schedule.Constant(1))]);
        dkd.Should().NotBeAssignableTo<ITorchLogitLoss>("one term (DKD) has no TorchSharp form, so the sum has none");
        Func<Task> composite = () => new TorchDistiller(Options(), dkd) { LossPath = LogitLossPath.TorchOperations }.FitAsync(student, teacher, train);
        (await composite.Should().ThrowAsync<ArgumentException>()).WithMessage("*'composite'*no TorchSharp-operations form*");

        var mapped = new TokenDistillationLoss(Schedule.Constant(0.5f), Schedule.Constant(1f), mapping: TokenMapping.Identity(10));
        mapped.TorchOperationsUnavailableReason.Should().Contain("TokenMapping");
        ModelPresetsTests.Weights(student).Should().Equal(before, "nothing trained");
    }

    [Fact]
    public async Task TheTorchOperationsPath_TrainsLikeTheKernels_ForEveryLibraryLossWithATorchForm()
    {
        LabeledImageSet train = TestData.TrainSubset(256);
        using TorchModel teacher = TorchModel.FromPreset("mlp:32", Image, 10, seed: 1);
        foreach (IDistillationLoss loss in new IDistillationLoss[]
        {
            TorchLosses.SoftTarget(DivergenceKind.JensenShannon, Schedule.Constant(2f)),
            TorchLosses.TopKHinton(Schedule.Constant(0.7f), Schedule.Constant(2f), topK: 3),
            TorchLosses.Composite([(TorchLosses.SoftTarget(DivergenceKind.ReverseKl, Schedule.Constant(2f)), Schedule.Constant(0.7f)), (TorchLosses.HardLabel(), Schedule.Constant(0.3f))]),
        })
        {
            using TorchModel a = TorchModel.FromPreset("mlp:16", Image, 10, seed: 2);
            using TorchModel b = TorchModel.FromPreset("mlp:16", Image, 10, seed: 2);
            DistillationHistory ha = await new TorchDistiller(Options(), loss) { LossPath = LogitLossPath.FusedCpuKernels }.FitAsync(a, teacher, train);
            DistillationHistory hb = await new TorchDistiller(Options(), loss) { LossPath = LogitLossPath.TorchOperations }.FitAsync(b, teacher, train);
            ha.Epochs[0].TrainLoss["total"].Should().BeApproximately(hb.Epochs[0].TrainLoss["total"], 1e-4, loss.Name);
            ModelPresetsTests.Weights(a).Zip(ModelPresetsTests.Weights(b), (x, y) => Math.Abs(x - y)).Max().Should().BeLessThan(1e-4f, loss.Name);
        }
    }

    // --- What a teacher gives is checked against what the loss accepts. ---

    [Fact]
    public async Task ATopKTeacher_NeedsALossThatAcceptsTopK_AndFeatureLossesNeedATeacherWithLayers()
    {
        LabeledImageSet train = TestData.TrainSubset(64);
        using TorchModel teacher = TorchModel.FromPreset("cnn:4", Image, 10, seed: 1);
        using TorchModel student = TorchModel.FromPreset("cnn:4", Image, 10, seed: 2);
        ITeacherSignal<Batch> topK = TeacherSignal.FromModel(teacher).TopK(3);

        Func<Task> dense = () => new TorchDistiller(Options(), new HintonDistillationLoss(0.7f, 2f)).FitAsync(student, topK, train);
        (await dense.Should().ThrowAsync<ArgumentException>()).WithMessage("*top-k, but loss 'hinton' needs dense teacher logits*");

        DistillationHistory history = await new TorchDistiller(Options(), new TopKHintonDistillationLoss(0.7f, 1f)).FitAsync(student, topK, train);
        history.Epochs[0].TrainLoss["kd"].Should().BeGreaterThan(0, "top-3 log-probabilities of the teacher on the device, as an API would give them");

        var noLayers = new LabelSmoothingTeacher(10, 0.1f);
        Func<Task> features = () => new TorchDistiller(Options()) { FeatureLosses = [new TorchSharp.Features.AttentionTransferLoss([new("block1", "block1")])] }.FitAsync(student, noLayers, train);
        (await features.Should().ThrowAsync<ArgumentException>()).WithMessage("*need a live teacher's layers*gives none*");
    }
}
