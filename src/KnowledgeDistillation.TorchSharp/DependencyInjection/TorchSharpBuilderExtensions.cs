using KnowledgeDistillation.DependencyInjection;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KnowledgeDistillation.TorchSharp.DependencyInjection;

/// <summary>Adds the TorchSharp trainer to <see cref="KnowledgeDistillationBuilder"/>.</summary>
public static class TorchSharpBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="TorchDistiller"/> (transient: one per training run), built from the registered
    /// <see cref="DistillationOptions"/>, <see cref="IDistillationLoss"/> and every <see cref="IDistillationCallback"/>.
    /// </summary>
    public static KnowledgeDistillationBuilder AddTorchSharpTrainer(this KnowledgeDistillationBuilder builder, Action<TorchDistillerSettings>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var settings = new TorchDistillerSettings();
        configure?.Invoke(settings);
        builder.Services.TryAddTransient(sp => new TorchDistiller(
            sp.GetRequiredService<IOptions<DistillationOptions>>().Value,
            sp.GetRequiredService<IDistillationLoss>(),
            sp.GetServices<IDistillationCallback>(),
            sp.GetService<ILogger<TorchDistiller>>())
        {
            LossPath = settings.LossPath,
            EvaluationBatchSize = settings.EvaluationBatchSize,
        });
        return builder;
    }
}

/// <summary>TorchSharp-specific trainer settings for DI registration.</summary>
public sealed class TorchDistillerSettings
{
    /// <summary>Where the logit loss is computed. <value>The default value is <see cref="LogitLossPath.Auto"/>.</value></summary>
    public LogitLossPath LossPath { get; set; } = LogitLossPath.Auto;

    /// <summary>Rows per evaluation batch. <value>The default value is 1000.</value></summary>
    public int EvaluationBatchSize { get; set; } = 1000;
}
