using System.Text.Json;
using System.Threading.Channels;

namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>
/// Appends records to the output JSONL, whole lines, flushed as they complete: a crash loses at most the lines
/// being written, and opening the file again finds it (no trailing newline, or not valid JSON) and cuts it
/// off. Opening also collects the ids already present (and whether each one's last record is an error), which is what
/// lets a rerun skip finished prompts. The file is opened with <see cref="FileShare.None"/>, which on Unix takes an
/// exclusive <c>flock</c> on it (<see cref="FileShare.Read"/> would take a shared one, which a second writer also
/// gets): a second run on the same file is refused before it reads or changes anything. The lock is advisory and
/// local: it holds between .NET processes on one machine (and on file systems whose flock spans machines).
/// </summary>
internal sealed class TeacherRecordWriter : IAsyncDisposable
{
    private readonly FileStream _stream;
    private readonly bool _flushToDisk;
    private readonly Channel<PendingLine> _queue = Channel.CreateUnbounded<PendingLine>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _pump;
    private volatile Exception? _failure;

    private TeacherRecordWriter(FileStream stream, bool flushToDisk, Dictionary<string, bool> lastIsError, long repairedBytes)
    {
        _stream = stream;
        _flushToDisk = flushToDisk;
        LastIsError = lastIsError;
        RepairedBytes = repairedBytes;
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Every id with a record, and whether its last record is an error record.</summary>
    public IReadOnlyDictionary<string, bool> LastIsError { get; }

    /// <summary>Bytes of a torn last line that opening removed (0 when the file was intact).</summary>
    public long RepairedBytes { get; }

    /// <summary>Opens (or creates) the output for exclusive appending.</summary>
    /// <exception cref="IOException">Another run (or any process holding an exclusive lock) is writing it; nothing was read or changed.</exception>
    public static TeacherRecordWriter Open(string path, bool flushToDisk)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        FileStream stream;
        try
        {
            stream = new FileStream(full, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        }
        catch (IOException e) when (RecordLines.IsLockConflict(e))
        {
            throw new IOException($"Output '{path}' is being written by another run (it holds the file's exclusive lock); this run was refused and did not change it. Wait for that run to end, or give this one another output file.", e);
        }
        catch (IOException e)
        {
            throw new IOException($"Cannot open output '{path}' for writing ({e.Message}).", e);
        }
        try
        {
            (Dictionary<string, bool> ids, long goodLength) = Scan(stream, path);
            long repaired = stream.Length - goodLength;
            if (repaired > 0)
            {
                stream.SetLength(goodLength);
                stream.Flush(flushToDisk: true);
            }
            stream.Seek(0, SeekOrigin.End);
            return new TeacherRecordWriter(stream, flushToDisk, ids, repaired);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Finds the ids (last record wins) and the length of the intact part: everything up to the last complete, valid line.</summary>
    private static (Dictionary<string, bool> Ids, long GoodLength) Scan(FileStream stream, string path)
    {
        var ids = new Dictionary<string, bool>(StringComparer.Ordinal);
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
                else if (RecordLines.TryReadId(content, out string? id, out bool isError, out string? problem))
                {
                    ids[id!] = isError;
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
        return (ids, goodLength);
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
