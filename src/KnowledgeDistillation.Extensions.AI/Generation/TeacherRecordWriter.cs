using System.Text.Json;
using System.Threading.Channels;

namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>
/// Appends records to the output JSONL, whole lines, flushed as they complete: a crash loses at most the lines
/// being written, and opening the file again finds it (no trailing newline, or not valid JSON) and cuts it
/// off. Opening also collects the ids already present, which is what lets a rerun skip finished prompts. The file
/// is opened for exclusive writing, so two runs cannot interleave lines in one file.
/// </summary>
internal sealed class TeacherRecordWriter : IAsyncDisposable
{
    private readonly FileStream _stream;
    private readonly bool _flushToDisk;
    private readonly Channel<PendingLine> _queue = Channel.CreateUnbounded<PendingLine>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _pump;
    private volatile Exception? _failure;

    private TeacherRecordWriter(FileStream stream, bool flushToDisk, HashSet<string> existing, long repairedBytes, int existingErrors)
    {
        _stream = stream;
        _flushToDisk = flushToDisk;
        ExistingIds = existing;
        RepairedBytes = repairedBytes;
        ExistingErrors = existingErrors;
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Ids that already have a record.</summary>
    public HashSet<string> ExistingIds { get; }

    /// <summary>Bytes of a torn last line that opening removed (0 when the file was intact).</summary>
    public long RepairedBytes { get; }

    /// <summary>Error records among the existing ones.</summary>
    public int ExistingErrors { get; }

    public static TeacherRecordWriter Open(string path, bool flushToDisk)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        FileStream stream;
        try
        {
            stream = new FileStream(full, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
        }
        catch (IOException e)
        {
            throw new IOException($"Cannot open output '{path}' for writing ({e.Message}); is another run writing to it?", e);
        }
        try
        {
            (HashSet<string> ids, long goodLength, int errors) = Scan(stream, path);
            long repaired = stream.Length - goodLength;
            if (repaired > 0)
            {
                stream.SetLength(goodLength);
                stream.Flush(flushToDisk: true);
            }
            stream.Seek(0, SeekOrigin.End);
            return new TeacherRecordWriter(stream, flushToDisk, ids, repaired, errors);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Finds the ids and the length of the intact part: everything up to the last complete, valid line.</summary>
    private static (HashSet<string> Ids, long GoodLength, int Errors) Scan(FileStream stream, string path)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        int errors = 0;
        long goodLength = 0;
        long lineStart = 0;
        int lineNumber = 0;
        var line = new MemoryStream();
        var buffer = new byte[1 << 16];
        string? pendingError = null;   // an invalid complete line is only forgiven when it turns out to be the last one
        int pendingLine = 0;
        stream.Seek(0, SeekOrigin.Begin);
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            int start = 0;
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] != (byte)'\n')
                {
                    continue;
                }
                line.Write(buffer, start, i - start);
                start = i + 1;
                lineNumber++;
                long lineEnd = lineStart + line.Length + 1;
                if (pendingError is not null)
                {
                    throw new InvalidDataException($"Output '{path}', line {pendingLine}, is damaged in the middle of the file ({pendingError}); this is not a torn last line that can be repaired. Move the file away or remove that line, then rerun.");
                }
                ReadOnlySpan<byte> content = line.GetBuffer().AsSpan(0, (int)line.Length);
                if (content.Trim(" \t\r"u8).IsEmpty)
                {
                    goodLength = lineEnd;
                }
                else if (TryReadId(content, out string? id, out bool isError, out string? problem))
                {
                    ids.Add(id!);
                    errors += isError ? 1 : 0;
                    goodLength = lineEnd;
                }
                else
                {
                    pendingError = problem;
                    pendingLine = lineNumber;
                }
                lineStart = lineEnd;
                line.SetLength(0);
            }
            line.Write(buffer, start, read - start);
        }
        // Whatever follows goodLength (a line without its newline, or an invalid last line) is a torn write.
        return (ids, goodLength, errors);
    }

    private static bool TryReadId(ReadOnlySpan<byte> json, out string? id, out bool isError, out string? problem)
    {
        id = null;
        isError = false;
        problem = null;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                problem = "not a JSON object";
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    id = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    isError = reader.TokenType != JsonTokenType.Null;
                    reader.Skip();
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                problem = "not one complete JSON object";
                return false;
            }
        }
        catch (JsonException e)
        {
            problem = $"not valid JSON: {e.Message}";
            return false;
        }
        if (string.IsNullOrEmpty(id))
        {
            problem = "no \"id\"";
            return false;
        }
        return true;
    }

    /// <summary>
    /// Queues a record and returns once it is written and flushed. One writer task drains the queue: it writes every
    /// line waiting, then flushes (and fsyncs) once for all of them (group commit), so concurrent records share one
    /// fsync instead of queueing behind one each. Not cancellable: a record that was paid for is written whole.
    /// </summary>
    public Task AppendAsync(TeacherRecord record)
    {
        if (_failure is { } failure)
        {
            throw new IOException($"The output could not be written earlier ({failure.Message}); no more records are accepted.", failure);
        }
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(record, TeacherJson.Files.TeacherRecord);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new PendingLine(line, done)))
        {
            throw new ObjectDisposedException(nameof(TeacherRecordWriter), "The output is closed.");
        }
        return done.Task;
    }

    private async Task PumpAsync()
    {
        var batch = new List<PendingLine>();
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (_queue.Reader.TryRead(out PendingLine item))
            {
                batch.Add(item);
            }
            try
            {
                if (_failure is not null)
                {
                    throw _failure;
                }
                foreach (PendingLine item in batch)
                {
                    await _stream.WriteAsync(item.Bytes).ConfigureAwait(false);
                }
                await _stream.FlushAsync().ConfigureAwait(false);
                if (_flushToDisk)
                {
                    _stream.Flush(flushToDisk: true);
                }
                foreach (PendingLine item in batch)
                {
                    item.Done.TrySetResult();
                }
            }
            catch (Exception e)
            {
                // A full disk or a vanished file: fail these records and every later one (the run stops; the next
                // open repairs a torn last line).
                _failure ??= e;
                foreach (PendingLine item in batch)
                {
                    item.Done.TrySetException(e);
                }
            }
        }
    }

    private readonly record struct PendingLine(byte[] Bytes, TaskCompletionSource Done);

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
