using KnowledgeDistillation.Extensions.AI.Caching;
using KnowledgeDistillation.Extensions.AI.Generation;
using KnowledgeDistillation.Extensions.AI.Teachers;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace KnowledgeDistillation.Extensions.AI.DependencyInjection;

/// <summary>Registers LLM teachers with a service collection.</summary>
/// <remarks>In this library's own namespace, as Microsoft's guidance for non-Microsoft packages asks.</remarks>
public static class ChatClientTeacherServiceCollectionExtensions
{
    /// <summary>
    /// The service key of the teacher's own cache (<see cref="AddChatClientTeacherRedisCache(IServiceCollection, string)"/>),
    /// which takes precedence over an application-wide <see cref="IDistributedCache"/>.
    /// </summary>
    public const string CacheServiceKey = "KnowledgeDistillation.Extensions.AI.TeacherCache";

    /// <summary>
    /// Registers a singleton <see cref="ChatClientTeacher"/> over the <see cref="IChatClient"/> registered with
    /// <c>AddChatClient</c>, and a <see cref="TeacherDataGenerator"/>. The cache is, in order: the teacher's own cache
    /// (<see cref="AddChatClientTeacherRedisCache(IServiceCollection, string)"/>, registered under
    /// <see cref="CacheServiceKey"/>), the application's <see cref="IDistributedCache"/> (e.g.
    /// <c>AddStackExchangeRedisCache</c>), otherwise a <see cref="FileDistributedCache"/> in <paramref name="cacheDirectory"/>.
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
            IDistributedCache? cache = options.UseCache
                ? sp.GetKeyedService<IDistributedCache>(CacheServiceKey) ?? sp.GetService<IDistributedCache>() ?? new FileDistributedCache(cacheDirectory)
                : null;
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

    /// <summary>
    /// Gives the teacher a Redis cache (Microsoft.Extensions.Caching.StackExchangeRedis) of its own, from a
    /// <c>redis://[:password@]host:port[/database]</c> URL (see <see cref="RedisTeacherCache"/> for its settings),
    /// without replacing the application's <see cref="IDistributedCache"/>. Call it with <see cref="AddChatClientTeacher"/>
    /// (in any order). Add the password to <see cref="ChatClientTeacherOptions.Secrets"/> so that no error text can show it.
    /// A Redis that is down when a run starts fails the run unless <see cref="GenerationOptions.RequireCache"/> is false;
    /// one that goes away during a run is skipped (logged once) and the run goes on uncached.
    /// </summary>
    /// <exception cref="FormatException">Not a Redis URL.</exception>
    public static IServiceCollection AddChatClientTeacherRedisCache(this IServiceCollection services, string redisUrl)
    {
        ArgumentNullException.ThrowIfNull(services);
        RedisCacheOptions parsed = RedisTeacherCache.ParseUrl(redisUrl);   // fail at registration, not at first use
        return services.AddChatClientTeacherRedisCache(o =>
        {
            o.ConfigurationOptions = parsed.ConfigurationOptions!.Clone();
            o.InstanceName = parsed.InstanceName;
        });
    }

    /// <summary>
    /// Gives the teacher a Redis cache of its own, configured in code (<see cref="RedisCacheOptions"/>: a
    /// <c>Configuration</c> string or <c>ConfigurationOptions</c>; the key prefix defaults to
    /// <see cref="RedisTeacherCache.DefaultInstanceName"/>). See <see cref="AddChatClientTeacherRedisCache(IServiceCollection, string)"/>.
    /// </summary>
    public static IServiceCollection AddChatClientTeacherRedisCache(this IServiceCollection services, Action<RedisCacheOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.TryAddKeyedSingleton<IDistributedCache>(CacheServiceKey, (sp, _) =>
        {
            var options = new RedisCacheOptions { InstanceName = RedisTeacherCache.DefaultInstanceName };
            configure(options);
            return new RedisCache(Microsoft.Extensions.Options.Options.Create(options));
        });
        return services;
    }
}
