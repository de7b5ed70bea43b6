using KnowledgeDistillation.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KnowledgeDistillation.DependencyInjection;

/// <summary>Registers KnowledgeDistillation with a service collection.</summary>
/// <remarks>In this library's own namespace, as Microsoft's guidance for non-Microsoft packages asks.</remarks>
public static class KnowledgeDistillationServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="DistillationOptions"/> (validated when the host starts, with every problem in one message),
    /// the loss (Hinton by default), and <see cref="DistillationMetrics"/>. Returns a builder to choose losses and callbacks.
    /// </summary>
    public static KnowledgeDistillationBuilder AddKnowledgeDistillation(this IServiceCollection services, Action<DistillationOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        OptionsBuilder<DistillationOptions> options = services.AddOptions<DistillationOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }
        options.ValidateOnStart();
        services.AddSingleton<IValidateOptions<DistillationOptions>, DistillationOptionsValidator>();
        services.AddSingleton<DistillationMetrics>();
        services.AddSingleton<IDistillationCallback>(sp => sp.GetRequiredService<DistillationMetrics>());
        return new KnowledgeDistillationBuilder(services);
    }
}

/// <summary>Validates <see cref="DistillationOptions"/> for the options system.</summary>
internal sealed class DistillationOptionsValidator : IValidateOptions<DistillationOptions>
{
    public ValidateOptionsResult Validate(string? name, DistillationOptions options)
    {
        IReadOnlyList<string> errors = options.GetErrors();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
