using System.Globalization;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using StackExchange.Redis;

namespace KnowledgeDistillation.Extensions.AI.Caching;

/// <summary>
/// A Redis answer cache (<see cref="RedisCache"/> from Microsoft.Extensions.Caching.StackExchangeRedis) from a
/// <c>redis://[[user]:password@]host[:port][/database]</c> URL (<c>rediss://</c> for TLS), set up for a teacher: a
/// refused or lost connection fails an operation at once (no queue of commands waiting for a reconnect, so a Redis
/// that goes away slows no request), operations time out after 5 s, and keys are prefixed with
/// <see cref="DefaultInstanceName"/> so that the cache can share a Redis with other data.
/// </summary>
public static class RedisTeacherCache
{
    /// <summary>The key prefix of teacher answers.</summary>
    public const string DefaultInstanceName = "kd:llm:";

    /// <summary>Whether <paramref name="value"/> is a <c>redis://</c> or <c>rediss://</c> URL.</summary>
    public static bool IsRedisUrl(string? value) =>
        value is not null && (value.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase));

    /// <summary>Creates the cache (it connects on first use).</summary>
    /// <exception cref="FormatException">Not a usable Redis URL; the message says what is expected (and never repeats a password).</exception>
    public static RedisCache Create(string url) => new(Microsoft.Extensions.Options.Options.Create(ParseUrl(url)));

    /// <summary>The cache options a URL stands for (see the class remarks for the settings).</summary>
    /// <exception cref="FormatException">Not a usable Redis URL; the message says what is expected (and never repeats a password).</exception>
    public static RedisCacheOptions ParseUrl(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!IsRedisUrl(url) || !Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new FormatException($"'{Describe(url)}' is not a Redis URL: give redis://host:port (e.g. redis://127.0.0.1:6379), optionally redis://:password@host:port/database, or rediss://… for TLS.");
        }
        int port = uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port;
        var configuration = new ConfigurationOptions
        {
            Ssl = uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase),
            AbortOnConnectFail = true,
            ConnectRetry = 1,
            ConnectTimeout = 5000,
            SyncTimeout = 5000,
            AsyncTimeout = 5000,
            BacklogPolicy = BacklogPolicy.FailFast,
            ClientName = "kd",
        };
        configuration.EndPoints.Add(uri.Host.Trim('[', ']'), port);
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            string[] parts = uri.UserInfo.Split(':', 2);
            string user = Uri.UnescapeDataString(parts[0]);
            configuration.User = user.Length == 0 ? null : user;
            configuration.Password = parts.Length == 2 ? Uri.UnescapeDataString(parts[1]) : null;
        }
        string path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            if (!int.TryParse(path, NumberStyles.None, CultureInfo.InvariantCulture, out int database) || database > 1000)
            {
                throw new FormatException($"'{Describe(url)}': the path '/{path}' must be a database number (redis://host:port/0 … /15 on a default server).");
            }
            configuration.DefaultDatabase = database;
        }
        return new RedisCacheOptions { ConfigurationOptions = configuration, InstanceName = DefaultInstanceName };
    }

    /// <summary>The password of a Redis URL, or null (to be given to <see cref="Teachers.ChatClientTeacherOptions.Secrets"/>).</summary>
    public static string? PasswordOf(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) && uri.UserInfo.Split(':', 2) is [_, { Length: > 0 } password] ? Uri.UnescapeDataString(password) : null;

    /// <summary>The URL without its user and password, safe to print.</summary>
    public static string Describe(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        int at = url.LastIndexOf('@');
        int scheme = url.IndexOf("://", StringComparison.Ordinal);
        return at >= 0 && scheme >= 0 && at > scheme ? string.Concat(url.AsSpan(0, scheme + 3), url.AsSpan(at + 1)) : url;
    }
}
