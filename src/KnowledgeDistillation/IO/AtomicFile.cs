namespace KnowledgeDistillation.IO;

/// <summary>
/// Writes files so that readers (and a crash, a full disk or a second run) see either the previous complete file or the
/// new complete file, never a mix: the content goes to a unique temporary file in the same folder (so two concurrent
/// writers never share one), is flushed to the disk, then renamed over the destination. Every file the library writes
/// goes through here or follows the same steps.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes the destination by calling <paramref name="write"/> on a fresh temporary file, then renames it into place.</summary>
    /// <param name="path">The destination; its folder is created when missing.</param>
    /// <param name="write">Writes the whole content to the stream.</param>
    /// <exception cref="IOException">Writing or renaming failed (for example a full disk, or <paramref name="path"/> is a folder); the previous file is intact and no temporary file is left.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new IOException($"'{path}' is a folder; give a file name to write to.");
        }
        string directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        string temp = TemporaryName(full);
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(file);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    /// <summary>Writes <paramref name="bytes"/> atomically (see <see cref="Write(string, Action{Stream})"/>).</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        Write(path, stream => stream.Write(copy));
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 atomically (see <see cref="Write(string, Action{Stream})"/>).</summary>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), leaveOpen: true);
            writer.Write(text);
        });
    }

    /// <summary>A unique temporary name next to <paramref name="path"/>: hidden, with the process id and a GUID, ending in <c>.tmp</c>.</summary>
    public static string TemporaryName(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
    }
}
