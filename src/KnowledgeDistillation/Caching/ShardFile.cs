using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace KnowledgeDistillation.Caching;

/// <summary>
/// The shard file layout: 8 magic bytes "KDTCACHE", int32 layout version, int32 header length, the UTF-8 JSON header,
/// zero padding to a 64-byte boundary, then the payload (little-endian). Files are written to a temporary name,
/// flushed to disk and renamed, so a shard is either complete or absent.
/// </summary>
internal static class ShardFile
{
    public const string Extension = ".kdtc";
    public const int Alignment = 64;
    private const int PrefixBytes = 16;
    private static readonly byte[] Magic = "KDTCACHE"u8.ToArray();

    public static string Name(int shard, int shardCount) =>
        string.Create(CultureInfo.InvariantCulture, $"shard-{shard:D5}-of-{shardCount:D5}{Extension}");

    public static string SearchPattern => "shard-*-of-*" + Extension;

    /// <summary>Writes header and payload atomically (temp file + flush + rename).</summary>
    public static void Write(string path, TeacherCacheShardHeader header, ReadOnlySpan<byte> payload)
    {
        EnsureLittleEndian();
        header = header with { PayloadBytes = payload.Length, PayloadSha256 = Convert.ToHexStringLower(SHA256.HashData(payload)) };
        // The payload offset depends on the header length, which depends on the offset's digits: iterate to a fixed point.
        byte[] json = [];
        long offset = 0;
        for (int i = 0; i < 4; i++)
        {
            json = JsonSerializer.SerializeToUtf8Bytes(header with { PayloadOffset = offset }, TeacherCacheJsonContext.Default.TeacherCacheShardHeader);
            long needed = Align(PrefixBytes + json.Length);
            if (needed == offset)
            {
                break;
            }
            offset = needed;
        }
        json = JsonSerializer.SerializeToUtf8Bytes(header with { PayloadOffset = offset }, TeacherCacheJsonContext.Default.TeacherCacheShardHeader);
        if (Align(PrefixBytes + json.Length) != offset)
        {
            throw new InvalidOperationException("The shard header's length did not settle; this is a bug.");
        }

        string temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> prefix = stackalloc byte[PrefixBytes];
                Magic.CopyTo(prefix);
                BinaryPrimitives.WriteInt32LittleEndian(prefix[8..], TeacherCacheShardHeader.CurrentFormatVersion);
                BinaryPrimitives.WriteInt32LittleEndian(prefix[12..], json.Length);
                stream.Write(prefix);
                stream.Write(json);
                stream.Write(new byte[offset - PrefixBytes - json.Length]);
                stream.Write(payload);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Reads and checks the header of a shard file (not the payload checksum).</summary>
    /// <exception cref="InvalidDataException">The file is not a shard, is truncated, or its header is inconsistent; the message names the file.</exception>
    public static TeacherCacheShardHeader ReadHeader(string path)
    {
        EnsureLittleEndian();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Span<byte> prefix = stackalloc byte[PrefixBytes];
        if (stream.ReadAtLeast(prefix, PrefixBytes, throwOnEndOfStream: false) < PrefixBytes || !prefix[..8].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"Teacher cache shard '{path}' is not a shard file (bad magic or shorter than {PrefixBytes} bytes). Delete it and write the shard again.");
        }
        int version = BinaryPrimitives.ReadInt32LittleEndian(prefix[8..]);
        if (version != TeacherCacheShardHeader.CurrentFormatVersion)
        {
            throw new InvalidDataException($"Teacher cache shard '{path}' has layout version {version}; this library reads version {TeacherCacheShardHeader.CurrentFormatVersion}. Write the cache again with this version.");
        }
        int length = BinaryPrimitives.ReadInt32LittleEndian(prefix[12..]);
        if (length <= 0 || length > 1 << 20 || PrefixBytes + (long)length > stream.Length)
        {
            throw new InvalidDataException($"Teacher cache shard '{path}' is truncated or corrupt: header length {length} for a file of {stream.Length} bytes. Delete it and write the shard again.");
        }
        byte[] json = new byte[length];
        stream.ReadExactly(json);
        TeacherCacheShardHeader header;
        try
        {
            header = JsonSerializer.Deserialize(json, TeacherCacheJsonContext.Default.TeacherCacheShardHeader)
                ?? throw new InvalidDataException($"Teacher cache shard '{path}' has an empty header.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Teacher cache shard '{path}' has a corrupt header ({ex.Message}). Delete it and write the shard again.", ex);
        }
        Check(path, header, stream.Length);
        return header;
    }

    /// <summary>Verifies a payload against the header's SHA-256.</summary>
    public static unsafe void VerifyPayload(string path, TeacherCacheShardHeader header, byte* payload)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (long at = 0; at < header.PayloadBytes; at += 1 << 30)
        {
            int n = (int)Math.Min(1 << 30, header.PayloadBytes - at);
            hash.AppendData(new ReadOnlySpan<byte>(payload + at, n));
        }
        string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (actual != header.PayloadSha256)
        {
            throw new InvalidDataException(
                $"Teacher cache shard '{path}' is corrupt: its payload's SHA-256 is {actual[..16]}… but the header records {header.PayloadSha256[..Math.Min(16, header.PayloadSha256.Length)]}…. Delete it and write the shard again (kd cache-teacher resumes and rewrites only missing shards).");
        }
    }

    /// <summary>Reads a shard file completely and verifies it; false (with the reason) when it is missing or unusable.</summary>
    public static unsafe bool TryVerify(string path, out TeacherCacheShardHeader? header, out string? problem)
    {
        header = null;
        problem = null;
        try
        {
            header = ReadHeader(path);
            byte[] payload = new byte[header.PayloadBytes];
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                stream.Position = header.PayloadOffset;
                stream.ReadExactly(payload);
            }
            fixed (byte* p = payload)
            {
                VerifyPayload(path, header, p);
            }
            return true;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            problem = ex.Message;
            return false;
        }
    }

    private static void Check(string path, TeacherCacheShardHeader h, long fileLength)
    {
        string? problem = null;
        long expectedRows = h.ShardIndex == h.ShardCount - 1 ? (long)h.Fingerprint.Count - ((long)h.ShardIndex * h.RowsPerShard) : h.RowsPerShard;
        if (h.ClassCount < 1 || h.RowsPerShard < 1 || h.ShardCount < 1 || (uint)h.ShardIndex >= (uint)h.ShardCount)
        {
            problem = "classes, rows per shard or shard numbers out of range";
        }
        else if (h.Format == TeacherCacheFormat.TopK ? h.TopK < 1 || h.TopK > h.ClassCount : h.TopK != 0)
        {
            problem = $"k = {h.TopK} does not fit format {h.Format} with {h.ClassCount} classes";
        }
        else if ((long)h.ShardCount * h.RowsPerShard < h.Fingerprint.Count || (long)(h.ShardCount - 1) * h.RowsPerShard >= Math.Max(1, h.Fingerprint.Count))
        {
            problem = $"{h.ShardCount} shards of {h.RowsPerShard} rows do not fit {h.Fingerprint.Count} samples";
        }
        else if (h.FirstRow != (long)h.ShardIndex * h.RowsPerShard || h.Rows != expectedRows)
        {
            problem = $"rows [{h.FirstRow}, +{h.Rows}) do not match shard {h.ShardIndex} of {h.ShardCount} ({expectedRows} rows expected)";
        }
        else if (h.PayloadBytes != (long)h.Rows * h.BytesPerRow || h.PayloadOffset % Alignment != 0 || h.PayloadOffset < PrefixBytes)
        {
            problem = $"payload of {h.PayloadBytes} bytes at {h.PayloadOffset} does not match {h.Rows} rows of {h.BytesPerRow} bytes";
        }
        else if (h.PayloadOffset + h.PayloadBytes != fileLength)
        {
            problem = $"the file has {fileLength} bytes but header and payload need {h.PayloadOffset + h.PayloadBytes} (truncated or appended to)";
        }
        if (problem is not null)
        {
            throw new InvalidDataException($"Teacher cache shard '{path}' is truncated or corrupt: {problem}. Delete it and write the shard again.");
        }
    }

    private static long Align(long value) => (value + Alignment - 1) / Alignment * Alignment;

    private static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Teacher caches are little-endian files; this big-endian platform cannot read or write them.");
        }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
