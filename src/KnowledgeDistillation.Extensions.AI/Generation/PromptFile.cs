using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KnowledgeDistillation.Extensions.AI.Teachers;
using Microsoft.Extensions.AI;

namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>What to do with a prompts line that cannot be read.</summary>
public enum InvalidPromptLinePolicy
{
    /// <summary>Stop before anything is sent or written, naming the line (the default: a typo should not cost a run).</summary>
    Stop,

    /// <summary>Skip the line, report it (log and summary), and go on with the valid lines.</summary>
    Skip,
}

/// <summary>A prompts line that could not be read.</summary>
/// <param name="LineNumber">1-based line number.</param>
/// <param name="Reason">What is wrong with it.</param>
public sealed record InvalidPromptLine(int LineNumber, string Reason);

/// <summary>The prompts read from a file, and the lines skipped.</summary>
/// <param name="Prompts">The prompts, in file order.</param>
/// <param name="InvalidLines">Lines skipped under <see cref="InvalidPromptLinePolicy.Skip"/>.</param>
public sealed record PromptFileContents(IReadOnlyList<TeacherPrompt> Prompts, IReadOnlyList<InvalidPromptLine> InvalidLines);

/// <summary>A prompts line that cannot be read, under <see cref="InvalidPromptLinePolicy.Stop"/>.</summary>
public sealed class PromptFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public PromptFormatException(string path, int lineNumber, string reason)
        : base($"{path}, line {lineNumber}: {reason}. Fix the line, or skip invalid lines (InvalidPromptLinePolicy.Skip, kd generate --skip-invalid).")
    {
        Path = path;
        LineNumber = lineNumber;
    }

    /// <summary>Creates the exception.</summary>
    public PromptFormatException() : this("", 0, "invalid line") { }

    /// <summary>Creates the exception.</summary>
    public PromptFormatException(string message) : base(message) => Path = "";

    /// <summary>Creates the exception.</summary>
    public PromptFormatException(string message, Exception innerException) : base(message, innerException) => Path = "";

    /// <summary>The prompts file.</summary>
    public string Path { get; }

    /// <summary>1-based number of the line.</summary>
    public int LineNumber { get; }
}

/// <summary>
/// Reads prompts from UTF-8 JSONL (bytes that are not UTF-8 make the line invalid: they are never replaced by U+FFFD
/// and sent): one JSON object per line, with <c>"prompt": "text"</c> (one user message) or
/// <c>"messages": [{"role": "user", "content": "…"}, …]</c>, and optionally <c>"id"</c> (string or number) and
/// <c>"system"</c> (a system message for that prompt). Blank lines are ignored. Lines without an id get a stable one
/// from their content (<c>p-</c> and 16 hex digits of its SHA-256; a repeated prompt gets <c>-2</c>, <c>-3</c>… in file order),
/// so a rerun on the same file maps every prompt to the same record.
/// </summary>
public static class PromptFile
{
    /// <summary>Reads and validates the whole file before anything is sent, so a bad line costs nothing.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="PromptFormatException">An invalid line, under <see cref="InvalidPromptLinePolicy.Stop"/>.</exception>
    /// <exception cref="InvalidDataException">The file holds no valid prompt.</exception>
    public static async Task<PromptFileContents> ReadAsync(string path, InvalidPromptLinePolicy policy = InvalidPromptLinePolicy.Stop, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Prompts file '{path}' does not exist.", path);
        }
        var prompts = new List<TeacherPrompt>();
        var invalid = new List<InvalidPromptLine>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var derivedCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var reader = new ByteLineReader(stream);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } bytes)
        {
            int lineNumber = reader.LineNumber;
            ReadOnlySpan<byte> span = bytes.Span;
            if (lineNumber == 1)
            {
                if (span is [0xFE, 0xFF, ..] or [0xFF, 0xFE, ..] || (span.Length > 1 && (span[0] == 0 || span[1] == 0)))
                {
                    throw new InvalidDataException($"Prompts file '{path}' is UTF-16 (or another wide encoding); prompts files are UTF-8 JSONL. Convert it (e.g. iconv -f UTF-16 -t UTF-8) and run again.");
                }
                if (span is [0xEF, 0xBB, 0xBF, ..])
                {
                    span = span[3..];   // a UTF-8 byte order mark
                }
            }
            string? error = TryDecode(span, out string line);
            if (error is null && string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            string? id = null;
            List<ChatMessage>? messages = null;
            error ??= TryParse(line, out id, out messages);
            if (error is null)
            {
                if (id is null)
                {
                    string baseId = DeriveId(messages!);
                    int n = derivedCounts[baseId] = derivedCounts.GetValueOrDefault(baseId) + 1;
                    id = n == 1 ? baseId : $"{baseId}-{n}";
                }
                if (!ids.Add(id))
                {
                    error = $"id '{id}' is used by an earlier line; ids must be unique";
                }
            }
            if (error is not null)
            {
                if (policy == InvalidPromptLinePolicy.Stop)
                {
                    throw new PromptFormatException(path, lineNumber, error);
                }
                invalid.Add(new InvalidPromptLine(lineNumber, error));
                continue;
            }
            prompts.Add(new TeacherPrompt(id!, messages!));
        }
        if (prompts.Count == 0)
        {
            throw new InvalidDataException(invalid.Count == 0
                ? $"Prompts file '{path}' holds no prompts: write one JSON object per line, e.g. {{\"id\": \"1\", \"prompt\": \"…\"}}."
                : $"Prompts file '{path}' holds no valid prompt: all {invalid.Count} non-blank line(s) are invalid (first: line {invalid[0].LineNumber}, {invalid[0].Reason}).");
        }
        return new PromptFileContents(prompts, invalid);
    }

    /// <summary>
    /// Decodes a line as strict UTF-8. A byte sequence that is not UTF-8 (a Latin-1 'é', a cut multi-byte character)
    /// is an invalid line, not a U+FFFD sent to the provider in its place (which would answer another question and
    /// cache it under the damaged text).
    /// </summary>
    private static string? TryDecode(ReadOnlySpan<byte> bytes, out string line)
    {
        try
        {
            line = StrictUtf8.GetString(bytes);
            return null;
        }
        catch (DecoderFallbackException e)
        {
            line = "";
            string found = e.BytesUnknown is { Length: > 0 } unknown ? string.Join(" ", unknown.Select(b => $"0x{b:X2}")) : "a byte";
            string where = e.Index >= 0 ? $" at byte {e.Index + 1} of the line" : "";
            return $"not valid UTF-8 ({found}{where}); prompts files must be UTF-8: convert the file (e.g. iconv -f LATIN1 -t UTF-8) or fix the line";
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static string? TryParse(string line, out string? id, out List<ChatMessage>? messages)
    {
        id = null;
        messages = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            return $"not valid JSON ({e.Message})";
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return $"expected a JSON object, found {root.ValueKind}";
            }
            if (root.TryGetProperty("id", out JsonElement idElement))
            {
                id = idElement.ValueKind switch
                {
                    JsonValueKind.String => idElement.GetString(),
                    JsonValueKind.Number => idElement.GetRawText(),
                    _ => null,
                };
                if (string.IsNullOrWhiteSpace(id))
                {
                    return "\"id\" must be a non-empty string or a number";
                }
            }
            messages = [];
            if (root.TryGetProperty("system", out JsonElement system))
            {
                if (system.ValueKind != JsonValueKind.String)
                {
                    return "\"system\" must be a string";
                }
                messages.Add(new ChatMessage(ChatRole.System, system.GetString()));
            }
            bool hasPrompt = root.TryGetProperty("prompt", out JsonElement prompt);
            bool hasMessages = root.TryGetProperty("messages", out JsonElement list);
            if (hasPrompt == hasMessages)
            {
                return hasPrompt ? "give \"prompt\" or \"messages\", not both" : "missing \"prompt\" (a string) or \"messages\" (an array)";
            }
            if (hasPrompt)
            {
                if (prompt.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(prompt.GetString()))
                {
                    return "\"prompt\" must be a non-empty string";
                }
                messages.Add(new ChatMessage(ChatRole.User, prompt.GetString()));
                return null;
            }
            if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            {
                return "\"messages\" must be a non-empty array";
            }
            int index = 0;
            foreach (JsonElement message in list.EnumerateArray())
            {
                if (message.ValueKind != JsonValueKind.Object
                    || !message.TryGetProperty("role", out JsonElement role) || role.ValueKind != JsonValueKind.String
                    || !message.TryGetProperty("content", out JsonElement content) || content.ValueKind != JsonValueKind.String)
                {
                    return $"messages[{index}] must be an object with string \"role\" and \"content\"";
                }
                string roleName = role.GetString()!;
                if (roleName is not ("system" or "user" or "assistant"))
                {
                    return $"messages[{index}].role '{roleName}' is not system, user or assistant";
                }
                messages.Add(new ChatMessage(new ChatRole(roleName), content.GetString()));
                index++;
            }
            return null;
        }
    }

    private static string DeriveId(List<ChatMessage> messages)
    {
        var text = new StringBuilder();
        foreach (ChatMessage message in messages)
        {
            // Role and length prefixes keep ("ab","c") and ("a","bc") apart.
            text.Append(message.Role.Value).Append(':').Append(message.Text.Length).Append(':').Append(message.Text).Append('\n');
        }
        return "p-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }
}
