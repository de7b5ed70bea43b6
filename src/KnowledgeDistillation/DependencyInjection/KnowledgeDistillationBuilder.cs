using System.Diagnostics.CodeAnalysis;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Schedules;
using KnowledgeDistillation.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace KnowledgeDistillation.DependencyInjection;

/// <summary>
/// Configures the distillation services registered by
/// <see cref="KnowledgeDistillationServiceCollectionExtensions.AddKnowledgeDistillation"/>: the loss (a weighted sum
/// of terms), and callbacks. Backend packages add their trainer through extension methods on this builder.
/// </summary>
public sealed class KnowledgeDistillationBuilder
{
    private readonly List<Func<IServiceProvider, (IDistillationLoss Loss, ISchedule Weight)>> _terms = [];

    internal KnowledgeDistillationBuilder(IServiceCollection services)
    {
        Services = services;
        services.TryAddSingleton<IDistillationLoss>(sp => BuildLoss(sp));
    }

    /// <summary>The service collection, for backend packages to add to.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Adds a loss term with a weight schedule (first added, first computed).</summary>
    public KnowledgeDistillationBuilder UseLoss(Func<IServiceProvider, IDistillationLoss> factory, ISchedule? weight = null)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _terms.Add(sp => (factory(sp) ?? throw new InvalidOperationException("A loss factory returned null."), weight ?? Schedule.Constant(1)));
        return this;
    }

    /// <summary>Adds Hinton logit distillation with α and T from <see cref="DistillationOptions"/> (<c>Alpha</c>, <c>Temperature</c>).</summary>
    public KnowledgeDistillationBuilder UseHintonDistillation() =>
        UseLoss(sp =>
        {
            DistillationOptions o = sp.GetRequiredService<IOptions<DistillationOptions>>().Value;
            return new HintonDistillationLoss(o.AlphaSchedule(), o.TemperatureSchedule());
        });

    /// <summary>Adds plain cross-entropy with the hard labels.</summary>
    public KnowledgeDistillationBuilder UseHardLabelLoss(float weight = 1f) =>
        UseLoss(_ => new HardLabelLoss(), Schedule.Constant(weight));

    /// <summary>Adds a callback (singleton).</summary>
    public KnowledgeDistillationBuilder AddCallback<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TCallback>()
        where TCallback : class, IDistillationCallback
    {
        Services.AddSingleton<IDistillationCallback, TCallback>();
        return this;
    }

    /// <summary>Adds a callback instance.</summary>
    public KnowledgeDistillationBuilder AddCallback(IDistillationCallback callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        Services.AddSingleton(callback);
        return this;
    }

    private IDistillationLoss BuildLoss(IServiceProvider services)
    {
        if (_terms.Count == 0)
        {
            DistillationOptions o = services.GetRequiredService<IOptions<DistillationOptions>>().Value;
            return new HintonDistillationLoss(o.AlphaSchedule(), o.TemperatureSchedule());
        }
        if (_terms.Count == 1)
        {
            (IDistillationLoss loss, ISchedule weight) = _terms[0](services);
            if (weight is ConstantSchedule { Value: 1f })
            {
                return loss;
            }
        }
        return new CompositeDistillationLoss(_terms.Select(t => t(services)));
    }
}
