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
internal readonly record struct Failure(bool IsTransient, int? StatusCode, string Kind, TimeSpan? RetryAfter)
{
    /// <summary>HTTP 401 or 403: the credentials are refused, for every prompt alike; the run stops.</summary>
    public bool IsAuthentication => StatusCode is 401 or 403;
}

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
        // No HTTP status: a response body the client could not make sense of (an HTML page with status 200, a JSON
        // object missing required fields, an array…) surfaces as various exception types (ArgumentOutOfRangeException,
        // InvalidOperationException…). It says nothing about the prompt, so it is transient: retried within
        // MaxAttempts and never recorded as the prompt's answer.
        return new Failure(true, null, "malformed_response", null);
    }

    /// <summary>
    /// 408, 409, 425, 429 and 5xx are transient (retried); 401 and 403 are authentication failures (the run stops);
    /// any other status (400, 404, 413, 422…) is the provider refusing this prompt: a permanent error record.
    /// </summary>
    internal static Failure FromStatus(int status, TimeSpan? retryAfter)
    {
        bool transient = status is 408 or 409 or 425 or 429 or >= 500 or < 400;
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

    internal static string Describe(Exception exception, Failure failure, SecretRedactor redactor)
    {
        // Messages from System.ClientModel hold the status line and the server's error body. The body can echo the
        // key (a 401 that repeats the rejected key, a proxy that dumps headers), so every description is redacted
        // here, where errors become text, before it reaches a log, a record or an exception message. Trimmed so that
        // one odd response cannot bloat the output file (after redaction, so that no secret is cut in half and kept).
        string message = redactor.Redact(exception.Message).ReplaceLineEndings(" ");
        if (message.Length > 400)
        {
            message = string.Concat(message.AsSpan(0, 400), "…");
        }
        return failure.StatusCode is { } status ? $"HTTP {status} ({(HttpStatusCode)status}): {message}" : $"{failure.Kind}: {message}";
    }
}
