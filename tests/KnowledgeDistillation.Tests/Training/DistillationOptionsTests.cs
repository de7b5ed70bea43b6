using KnowledgeDistillation.Training;

namespace KnowledgeDistillation.Tests.Training;

public sealed class DistillationOptionsTests
{
    [Fact]
    public void Defaults_AreValid()
    {
        new DistillationOptions().GetErrors().Should().BeEmpty();
    }

    [Fact]
    public void Validate_ListsEveryProblem_WithTheValues()
    {
        var options = new DistillationOptions { Epochs = 0, BatchSize = -1, LearningRate = double.NaN, Temperature = "0", Alpha = "1.5", Momentum = 1, WarmupFraction = 1 };
        Action act = () => options.Validate();
        act.Should().Throw<ArgumentException>()
            .WithMessage("*Epochs must be at least 1 (was 0)*BatchSize must be at least 1 (was -1)*LearningRate*NaN*Momentum*WarmupFraction*Temperature*gives 0*positive*Alpha*1.5*[0, 1]*");
    }

    [Fact]
    public void Validate_ChecksSchedulesOverTheWholeRun()
    {
        var options = new DistillationOptions { Alpha = "linear:0.5:1.2" };
        Action act = () => options.Validate(totalSteps: 100);
        act.Should().Throw<ArgumentException>().WithMessage("*Alpha schedule 'linear:0.5:1.2' gives*[0, 1]*");
    }

    [Fact]
    public void LearningRate_WarmsUpThenDecays()
    {
        LearningRates.At(0, 100, 1, 0.1, LearningRateScheduleKind.Cosine).Should().BeApproximately(0.1, 1e-12);
        LearningRates.At(9, 100, 1, 0.1, LearningRateScheduleKind.Cosine).Should().BeApproximately(1, 1e-12);
        LearningRates.At(55, 100, 1, 0.1, LearningRateScheduleKind.Cosine).Should().BeApproximately(0.5 * (1 + Math.Cos(Math.PI * 45 / 90)), 1e-12);
        LearningRates.At(99, 100, 1, 0, LearningRateScheduleKind.Linear).Should().BeApproximately(0.01, 1e-12);
        LearningRates.At(50, 100, 0.3, 0, LearningRateScheduleKind.Constant).Should().Be(0.3);
    }

    [Fact]
    public void EarlyStopping_StopsAfterPatienceEpochsWithoutImprovement()
    {
        var stop = new EarlyStoppingCallback("val_accuracy", patience: 2, minDelta: 0.01);
        var control = new RecordingControl();
        foreach (double acc in new[] { 0.80, 0.85, 0.855, 0.86 })
        {
            stop.OnEpochCompleted(Epoch(acc), control);
        }
        control.Reason.Should().Contain("val_accuracy did not improve");
        stop.Best.Should().Be(0.85);
    }

    [Fact]
    public void EarlyStopping_OnAnUnreportedMetric_SaysWhatWasReported()
    {
        var stop = new EarlyStoppingCallback("val_f1");
        Action act = () => stop.OnEpochCompleted(Epoch(0.5), new RecordingControl());
        act.Should().Throw<InvalidOperationException>().WithMessage("*'val_f1'*val_accuracy*");
    }

    private static EpochSummary Epoch(double accuracy) =>
        new(0, 1, new Dictionary<string, double> { ["total"] = 1 }, new Dictionary<string, double> { ["val_accuracy"] = accuracy }, 1e-3, TimeSpan.FromSeconds(1), 100);

    private sealed class RecordingControl : ITrainingControl
    {
        public string? Reason { get; private set; }

        public long TotalSteps => 10;

        public void RequestStop(string reason) => Reason ??= reason;

        public void SaveCheckpoint(string path) => throw new NotSupportedException();
    }
}
