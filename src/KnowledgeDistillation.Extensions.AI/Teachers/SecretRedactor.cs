using System.Text.Json;
using System.Text.RegularExpressions;

namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>
/// Removes credentials from text before it becomes an error message, a record or a log line: every configured secret
/// (also in its JSON-escaped and URL-escaped forms, as a server may echo it back), every <c>Bearer …</c> token and
/// every <c>api-key: …</c> / <c>api_key=…</c> value is replaced by <see cref="Mask"/>. Providers do echo keys: a 401 body
/// that repeats the rejected key, or a proxy that dumps the request headers.
/// </summary>
public sealed partial class SecretRedactor
{
    /// <summary>What a secret is replaced with.</summary>
    public const string Mask = "[redacted]";

    private readonly string[] _secrets;

    /// <summary>Creates a redactor for the given secrets (null and empty values are ignored).</summary>
    public SecretRedactor(IEnumerable<string?> secrets)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        var forms = new HashSet<string>(StringComparer.Ordinal);
        foreach (string? secret in secrets)
        {
            if (string.IsNullOrEmpty(secret))
            {
                continue;
            }
            forms.Add(secret);
            forms.Add(JsonEncodedText.Encode(secret).ToString());
            forms.Add(Uri.EscapeDataString(secret));
        }
        // Longest first, so that a secret containing another is replaced whole.
        _secrets = [.. forms.OrderByDescending(s => s.Length)];
    }

    /// <summary>A redactor without configured secrets (it still masks bearer tokens and api-key values).</summary>
    public static SecretRedactor Default { get; } = new([]);

    /// <summary>The text with every secret masked; an empty string for null.</summary>
    public string Redact(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }
        foreach (string secret in _secrets)
        {
            text = text.Replace(secret, Mask, StringComparison.Ordinal);
        }
        text = BearerToken().Replace(text, "${scheme} " + Mask);
        return ApiKeyValue().Replace(text, "${name}" + Mask);
    }

    /// <summary>
    /// The exception itself when no message in its chain holds a secret; otherwise a copy of the chain with every
    /// message (and stack trace) redacted, so that logging or printing it cannot leak a key.
    /// </summary>
    public Exception? Redact(Exception? exception)
    {
        if (exception is null || !Leaks(exception))
        {
            return exception;
        }
        return new RedactedException(exception, this);
    }

    private bool Leaks(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (Redact(e.Message) != e.Message || (e.StackTrace is { } trace && Redact(trace) != trace))
            {
                return true;
            }
        }
        return false;
    }

    // RFC 6750 token68 characters after "Bearer" (case-insensitive); an already masked token is left alone.
    [GeneratedRegex(@"\b(?<scheme>[Bb][Ee][Aa][Rr][Ee][Rr])\s+(?!\[redacted\])[A-Za-z0-9\-._~+/]+=*")]
    private static partial Regex BearerToken();

    // api-key: value, api_key=value, "apiKey": "value" (Azure's header, query parameters, JSON dumps).
    [GeneratedRegex(@"(?<name>\b(?i:api[-_]?key)[""']?\s*[:=]\s*[""']?)(?!\[redacted\])[^\s""',;&}]+")]
    private static partial Regex ApiKeyValue();

    /// <summary>A copy of an exception whose messages held a secret: type name, redacted message and stack trace, redacted inner exceptions.</summary>
    private sealed class RedactedException(Exception original, SecretRedactor redactor)
        : Exception($"{original.GetType().FullName}: {redactor.Redact(original.Message)}", redactor.RedactChain(original.InnerException))
    {
        private readonly string? _stackTrace = original.StackTrace is { } trace ? redactor.Redact(trace) : null;

        public override string? StackTrace => _stackTrace;
    }

    private Exception? RedactChain(Exception? exception) => exception is null ? null : new RedactedException(exception, this);
}
