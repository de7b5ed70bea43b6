using System.Diagnostics.Metrics;
using KnowledgeDistillation.DependencyInjection;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KnowledgeDistillation.Tests.DependencyInjection;

public sealed class DependencyInjectionTests
{
    [Fact]
    public void AddKnowledgeDistillation_RegistersOptionsAndTheDefaultHintonLoss()
    {
        var services = new ServiceCollection();
        services.AddKnowledgeDistillation(o => { o.Alpha = "0.5"; o.Temperature = "2"; });
        using ServiceProvider provider = services.BuildServiceProvider();

        provider.GetRequiredService<IOptions<DistillationOptions>>().Value.Alpha.Should().Be("0.5");
        var loss = provider.GetRequiredService<IDistillationLoss>().Should().BeOfType<HintonDistillationLoss>().Subject;
        loss.Alpha.ValueAt(0, 1).Should().Be(0.5f);
        loss.Temperature.ValueAt(0, 1).Should().Be(2f);
        provider.GetRequiredService<IDistillationLoss>().Should().BeSameAs(loss, "the loss is a singleton");
        provider.GetServices<IDistillationCallback>().Should().ContainSingle().Which.Should().BeOfType<DistillationMetrics>();
    }

    [Fact]
    public void Builder_ComposesLossTerms()
    {
        var services = new ServiceCollection();
        services.AddKnowledgeDistillation().UseHintonDistillation().UseHardLabelLoss(weight: 0.1f);
        using ServiceProvider provider = services.BuildServiceProvider();

        var composite = provider.GetRequiredService<IDistillationLoss>().Should().BeOfType<CompositeDistillationLoss>().Subject;
        composite.Terms.Select(t => t.Loss.Name).Should().Equal("hinton", "ce");
        composite.Terms[1].Weight.ValueAt(0, 1).Should().Be(0.1f);
    }

    [Fact]
    public void InvalidOptions_FailOnResolveWithEveryProblem()
    {
        var services = new ServiceCollection();
        services.AddKnowledgeDistillation(o => { o.Epochs = 0; o.Temperature = "-1"; });
        using ServiceProvider provider = services.BuildServiceProvider();

        Action act = () => _ = provider.GetRequiredService<IOptions<DistillationOptions>>().Value;
        act.Should().Throw<OptionsValidationException>().WithMessage("*Epochs must be at least 1*Temperature*");
    }

    [Fact]
    public void Metrics_ArePublishedThroughSystemDiagnosticsMetrics()
    {
        var recorded = new List<(string Name, double Value)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == DistillationMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, _, _) => recorded.Add((i.Name, v)));
        listener.SetMeasurementEventCallback<double>((i, v, _, _) => recorded.Add((i.Name, v)));
        listener.Start();

        using var metrics = new DistillationMetrics();
        metrics.OnStepCompleted(1, new Dictionary<string, float> { ["total"] = 0.5f }, null!);
        metrics.OnEpochCompleted(new EpochSummary(0, 1, new Dictionary<string, double>(), new Dictionary<string, double> { ["val_accuracy"] = 0.9 }, 1e-3, TimeSpan.FromSeconds(2), 10), null!);

        recorded.Should().Contain(("kd.train.steps", 1)).And.Contain(("kd.train.loss", 0.5)).And.Contain(("kd.train.epoch.duration", 2)).And.Contain(("kd.eval.metric", 0.9));
    }
}
