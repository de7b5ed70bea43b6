using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>
/// Reads and merges the JSONL output of generation runs. The output is append-only: a prompt can have several
/// records when an error record was tried again (<see cref="GenerationOptions.RetryErrorRecords"/>); the last record
/// of an id is the one that counts, and <see cref="ReadAsync"/> returns only that one.
/// </summary>
public static class TeacherRecordFile
{
    /// <summary>
    /// Reads one record per prompt id: the last one in the file (an answer that superseded an earlier error record), in
    /// the order of those last records. Blank lines are ignored. Reads the file twice (ids first), so memory holds
    /// the ids, not the records.
    /// </summary>
    /// <exception cref="InvalidDataException">A line is not a record (its number is in the message).</exception>
    public static async IAsyncEnumerable<TeacherRecord> ReadAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var last = new Dictionary<string, int>(StringComparer.Ordinal);
        await using (FileStream stream = OpenRead(path))
        {
            var reader = new ByteLineReader(stream);
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (IsBlank(line.Span))
                {
                    continue;
                }
                if (!RecordLines.TryReadId(line.Span, out string? id, out _, out string? problem))
                {
                    throw new InvalidDataException($"{path}, line {reader.LineNumber}: not a teacher record ({problem}).");
                }
                last[id!] = reader.LineNumber;
            }
        }
        await foreach ((int lineNumber, TeacherRecord record) in ReadLinesAsync(path, cancellationToken).ConfigureAwait(false))
        {
            if (last.TryGetValue(record.Id, out int kept) && kept == lineNumber)
            {
                yield return record;
            }
        }
    }

    /// <summary>Reads every record line in file order, superseded ones included (the file's full history). Blank lines are ignored.</summary>
    /// <exception cref="InvalidDataException">A line is not a record (its number is in the message).</exception>
    public static async IAsyncEnumerable<TeacherRecord> ReadAllAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        await foreach ((_, TeacherRecord record) in ReadLinesAsync(path, cancellationToken).ConfigureAwait(false))
        {
            yield return record;
        }
    }

    private static async IAsyncEnumerable<(int LineNumber, TeacherRecord Record)> ReadLinesAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using FileStream stream = OpenRead(path);
        var reader = new ByteLineReader(stream);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (IsBlank(line.Span))
            {
                continue;
            }
            TeacherRecord? record;
            try
            {
                record = JsonSerializer.Deserialize(line.Span, TeacherJson.Files.TeacherRecord);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}, line {reader.LineNumber}: not a teacher record ({e.Message}).", e);
            }
            if (record?.Id is null)
            {
                throw new InvalidDataException($"{path}, line {reader.LineNumber}: not a teacher record (no id).");
            }
            yield return (reader.LineNumber, record);
        }
    }

    /// <summary>
    /// Joins the outputs of several runs (the shards of a <see cref="PromptShard"/> split, or any record files) into one
    /// file with exactly one record per prompt id, written atomically (a unique temporary file in the destination's
    /// folder, flushed to disk, then renamed over the destination). Within a file the last record of an id wins (as
    /// in <see cref="ReadAsync"/>). Across files an answer beats an error record, the same answer found twice is kept
    /// once, and two different answers for one id are refused: that means two runs answered the same prompt
    /// differently (different models or settings), and picking one silently would mix them. Lines are copied byte for
    /// byte, in input order.
    /// </summary>
    /// <param name="inputs">The files, in the order their records are written.</param>
    /// <param name="outputPath">The merged file (replaced when it exists; must not be one of the inputs).</param>
    /// <param name="cancellationToken">Stops the merge; the destination is then left as it was.</param>
    /// <exception cref="FileNotFoundException">An input does not exist.</exception>
    /// <exception cref="InvalidDataException">A damaged line (with file and line number), or one id with different answers in two files.</exception>
    /// <exception cref="IOException">An input or the output is being written by a running generation.</exception>
    public static async Task<RecordMergeSummary> MergeAsync(IReadOnlyList<string> inputs, string outputPath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        if (inputs.Count == 0)
        {
            throw new ArgumentException("Give at least one file to merge.", nameof(inputs));
        }
        string output = Path.GetFullPath(outputPath);
        foreach (string input in inputs)
        {
            if (string.Equals(Path.GetFullPath(input), output, StringComparison.Ordinal))
            {
                throw new ArgumentException($"The merged file '{outputPath}' is also an input; write the merge to another file.", nameof(outputPath));
            }
            if (!File.Exists(input))
            {
                throw new FileNotFoundException($"File to merge '{input}' does not exist (a worker that has not run, or a wrong name).", input);
            }
        }

        // Pass 1: which line of which file is kept for each id.
        var chosen = new Dictionary<string, Choice>(StringComparer.Ordinal);
        long lines = 0;
        int identical = 0, superseded = 0;
        for (int file = 0; file < inputs.Count; file++)
        {
            await using FileStream stream = OpenRead(inputs[file]);
            var reader = new ByteLineReader(stream);
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (IsBlank(line.Span))
                {
                    continue;
                }
                lines++;
                Choice next = ReadChoice(line.Span, file, reader.LineNumber, reader.EndedWithNewline, inputs[file]);
                if (!chosen.TryGetValue(next.Id, out Choice current))
                {
                    chosen[next.Id] = next;
                }
                else if (current.File == file || current.IsError)
                {
                    chosen[next.Id] = next;   // a later record of the same file, or an answer (or error) after an error
                    superseded++;
                }
                else if (next.IsError)
                {
                    superseded++;             // an answer from an earlier file beats an error record
                }
                else if (current.ResponseHash == next.ResponseHash)
                {
                    identical++;
                }
                else
                {
                    throw new InvalidDataException($"Prompt id '{next.Id}' has different answers in '{inputs[current.File]}' (line {current.Line}) and '{inputs[file]}' (line {reader.LineNumber}): two runs answered it differently (another model or settings?). Keep one of the files (or remove one of the records), then merge again.");
                }
            }
        }

        // Pass 2: copy the kept lines into a temporary file, then rename it over the destination.
        if (File.Exists(output))
        {
            EnsureNotBeingWritten(output, outputPath);
        }
        string directory = Path.GetDirectoryName(output)!;
        Directory.CreateDirectory(directory);
        string temp = Path.Combine(directory, $"{Path.GetFileName(output)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        int records = 0, errors = 0;
        try
        {
            await using (var target = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                for (int file = 0; file < inputs.Count; file++)
                {
                    await using FileStream stream = OpenRead(inputs[file]);
                    var reader = new ByteLineReader(stream);
                    while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
                    {
                        if (IsBlank(line.Span) || !RecordLines.TryReadId(line.Span, out string? id, out _, out _)
                            || !chosen.TryGetValue(id!, out Choice keep) || keep.File != file || keep.Line != reader.LineNumber)
                        {
                            continue;
                        }
                        await target.WriteAsync(line, cancellationToken).ConfigureAwait(false);
                        target.WriteByte((byte)'\n');
                        records++;
                        errors += keep.IsError ? 1 : 0;
                    }
                }
                await target.FlushAsync(cancellationToken).ConfigureAwait(false);
                target.Flush(flushToDisk: true);
            }
            if (records != chosen.Count)
            {
                throw new IOException($"An input changed while it was being merged ({records} records copied, {chosen.Count} expected); merge again once no worker writes to it.");
            }
            File.Move(temp, output, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
        return new RecordMergeSummary(outputPath, inputs.Count, lines, records, errors, identical, superseded);
    }

    private static Choice ReadChoice(ReadOnlySpan<byte> line, int file, int lineNumber, bool endedWithNewline, string path)
    {
        string? id = null, response = null;
        bool isError = false;
        string? problem = null;
        try
        {
            using JsonDocument document = JsonDocument.Parse(line.ToArray());
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problem = "not a JSON object";
            }
            else
            {
                id = root.TryGetProperty("id", out JsonElement idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
                isError = root.TryGetProperty("error", out JsonElement error) && error.ValueKind != JsonValueKind.Null;
                response = root.TryGetProperty("response", out JsonElement text) && text.ValueKind == JsonValueKind.String ? text.GetString() : null;
                problem = string.IsNullOrEmpty(id) ? "no \"id\"" : null;
            }
        }
        catch (JsonException e)
        {
            problem = $"not valid JSON: {e.Message}";
        }
        if (problem is not null || !endedWithNewline)
        {
            throw new InvalidDataException($"'{path}', line {lineNumber}, is damaged ({problem ?? "no newline at the end: a torn last line"}); a worker that was stopped mid-write leaves that. Rerun that worker (it repairs its file and finishes), then merge again.");
        }
        UInt128 hash = response is null ? UInt128.Zero : ToUInt128(SHA256.HashData(Encoding.UTF8.GetBytes(response)));
        return new Choice(id!, file, lineNumber, isError, hash);
    }

    private static UInt128 ToUInt128(byte[] hash) => new(BitConverter.ToUInt64(hash, 0), BitConverter.ToUInt64(hash, 8));

    private static void EnsureNotBeingWritten(string full, string path)
    {
        try
        {
            using var probe = new FileStream(full, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (RecordLines.IsLockConflict(e))
        {
            throw new IOException($"'{path}' is being written by a running generation; merge into another file, or wait for it to end.", e);
        }
    }

    private static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (IOException e) when (RecordLines.IsLockConflict(e))
        {
            throw new IOException($"'{path}' is being written by a running generation (it is locked); read it once that run has ended.", e);
        }
    }

    private static bool IsBlank(ReadOnlySpan<byte> line) => line.Trim(" \t\r"u8).IsEmpty;

    private readonly record struct Choice(string Id, int File, int Line, bool IsError, UInt128 ResponseHash);
}
