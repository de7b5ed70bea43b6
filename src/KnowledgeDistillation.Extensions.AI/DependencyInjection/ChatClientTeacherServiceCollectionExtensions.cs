using KnowledgeDistillation.Extensions.AI.Caching;
using KnowledgeDistillation.Extensions.AI.Generation;
using KnowledgeDistillation.Extensions.AI.Teachers;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace KnowledgeDistillation.Extensions.AI.DependencyInjection;

/// <summary>Registers LLM teachers with a service collection.</summary>
/// <remarks>In this library's own namespace, as Microsoft's guidance for non-Microsoft packages asks.</remarks>
public static class ChatClientTeacherServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="ChatClientTeacher"/> over the <see cref="IChatClient"/> registered with
    /// <c>AddChatClient</c>, and a <see cref="TeacherDataGenerator"/>. The cache is the registered
    /// <see cref="IDistributedCache"/> (e.g. Redis through its standard package) when there is one, otherwise a
    /// <see cref="FileDistributedCache"/> in <paramref name="cacheDirectory"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the teacher's options (validated when the teacher is first resolved).</param>
    /// <param name="configureGeneration">Sets the generator's options.</param>
    /// <param name="cacheDirectory">The folder of the default on-disk cache.</param>
    public static IServiceCollection AddChatClientTeacher(this IServiceCollection services, Action<ChatClientTeacherOptions>? configure = null,
        Action<GenerationOptions>? configureGeneration = null, string cacheDirectory = ".kd-cache/llm")
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(cacheDirectory);
        services.TryAddSingleton(sp =>
        {
            var options = new ChatClientTeacherOptions();
            configure?.Invoke(options);
            IChatClient client = sp.GetService<IChatClient>() ?? throw new InvalidOperationException(
                "AddChatClientTeacher needs an IChatClient: register one first, e.g. services.AddChatClient(OpenAICompatibleChatClient.Create(endpoint, model, apiKey)).");
            IDistributedCache? cache = options.UseCache ? sp.GetService<IDistributedCache>() ?? new FileDistributedCache(cacheDirectory) : null;
            return new ChatClientTeacher(client, options, cache, sp.GetService<ILoggerFactory>()?.CreateLogger<ChatClientTeacher>());
        });
        services.TryAddSingleton(sp =>
        {
            var options = new GenerationOptions();
            configureGeneration?.Invoke(options);
            return new TeacherDataGenerator(sp.GetRequiredService<ChatClientTeacher>(), options, sp.GetService<ILoggerFactory>()?.CreateLogger<TeacherDataGenerator>());
        });
        return services;
    }
}
