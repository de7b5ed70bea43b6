using System.ClientModel;
using System.ClientModel.Primitives;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>What a failed attempt means for the retry loop.</summary>
/// <param name="IsTransient">Whether another attempt may succeed.</param>
/// <param name="StatusCode">The HTTP status, when there was a response.</param>
/// <param name="Kind">A short machine-readable reason (<c>http_429</c>, <c>timeout</c>, <c>connection</c>, <c>malformed_response</c>…).</param>
/// <param name="RetryAfter">The server's requested wait, when it sent one.</param>
internal readonly record struct Failure(bool IsTransient, int? StatusCode, string Kind, TimeSpan? RetryAfter);

/// <summary>
/// Sorts exceptions from chat clients into transient and permanent failures. Knows System.ClientModel (the OpenAI and
/// Azure OpenAI clients) and plain <see cref="HttpRequestException"/>s, and looks through inner exceptions, because
/// clients wrap transport errors differently.
/// </summary>
internal static class FailureClassifier
{
    public static Failure Classify(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case ClientResultException { Status: > 0 } cre:
                    return FromStatus(cre.Status, ReadRetryAfter(cre.GetRawResponse()));
                case HttpRequestException { StatusCode: { } code }:
                    return FromStatus((int)code, null);
                case JsonException:
                    return new Failure(true, null, "malformed_response", null);
                case TimeoutException:
                    return new Failure(true, null, "timeout", null);
                case HttpIOException or IOException or SocketException:
                    return new Failure(true, null, "connection", null);
                case HttpRequestException:
                    return new Failure(true, null, "connection", null);
                default:
                    break;
            }
        }
        // A response body the client could not make sense of (e.g. a JSON object missing required fields) surfaces as
        // various exception types; an unknown failure is treated as permanent so it is recorded, not retried forever.
        return new Failure(false, null, "error", null);
    }

    internal static Failure FromStatus(int status, TimeSpan? retryAfter)
    {
        bool transient = status is 408 or 409 or 425 or 429 or >= 500;
        return new Failure(transient, status, $"http_{status.ToString(CultureInfo.InvariantCulture)}", transient ? retryAfter : null);
    }

    private static TimeSpan? ReadRetryAfter(PipelineResponse? response)
    {
        if (response is null)
        {
            return null;
        }
        response.Headers.TryGetValue("retry-after-ms", out string? ms);
        response.Headers.TryGetValue("Retry-After", out string? retryAfter);
        return ParseRetryAfter(ms, retryAfter, DateTimeOffset.UtcNow);
    }

    /// <summary>
    /// Parses <c>retry-after-ms</c> (milliseconds, OpenAI's more precise header, preferred) or <c>Retry-After</c>
    /// (delay-seconds or an HTTP-date, RFC 9110 §10.2.3). Returns null when neither is usable.
    /// </summary>
    internal static TimeSpan? ParseRetryAfter(string? retryAfterMs, string? retryAfter, DateTimeOffset now)
    {
        if (double.TryParse(retryAfterMs, NumberStyles.Float, CultureInfo.InvariantCulture, out double milliseconds) && milliseconds >= 0 && double.IsFinite(milliseconds))
        {
            return TimeSpan.FromMilliseconds(milliseconds);
        }
        if (string.IsNullOrWhiteSpace(retryAfter))
        {
            return null;
        }
        if (long.TryParse(retryAfter, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds))
        {
            return TimeSpan.FromSeconds(Math.Min(seconds, 86_400));
        }
        if (DateTimeOffset.TryParseExact(retryAfter.Trim(), "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset date))
        {
            TimeSpan wait = date - now;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
        return null;
    }

    internal static string Describe(Exception exception, Failure failure)
    {
        // Messages from System.ClientModel hold the status line and the server's error body, never request headers
        // (so never the API key); they are trimmed so that one odd response cannot bloat the output file.
        string message = exception.Message.ReplaceLineEndings(" ");
        if (message.Length > 400)
        {
            message = string.Concat(message.AsSpan(0, 400), "…");
        }
        return failure.StatusCode is { } status ? $"HTTP {status} ({(HttpStatusCode)status}): {message}" : $"{failure.Kind}: {message}";
    }
}
