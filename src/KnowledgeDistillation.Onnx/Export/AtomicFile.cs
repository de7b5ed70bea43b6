namespace KnowledgeDistillation.Onnx.Export;

/// <summary>Replaces a file all at once: readers see the previous file or the complete new one, never a truncated one.</summary>
internal static class AtomicFile
{
    /// <summary>
    /// Writes to a unique temporary file in the destination's folder (creating the folder), flushes it to disk, then moves
    /// it over <paramref name="path"/>. On failure the temporary file is deleted and the previous file is left as it was.
    /// </summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(write);
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException($"'{path}' is not a file path.", nameof(path));
        Directory.CreateDirectory(directory);
        // Same folder, so the move is a rename on one file system.
        string temp = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(file);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }
}
