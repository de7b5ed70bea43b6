using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Caching.Distributed;

namespace KnowledgeDistillation.Extensions.AI.Caching;

/// <summary>
/// An <see cref="IDistributedCache"/> on the local disk: one file per key, written atomically (temporary file, then
/// rename), so a crash never leaves a half-written entry behind. Safe to share between processes on one machine.
/// </summary>
/// <remarks>
/// File names are the SHA-256 of the key, spread over 256 sub-folders. Absolute and sliding expirations are honoured;
/// expired or unreadable entries read as misses and are deleted. Nothing else evicts entries: delete the folder to
/// clear the cache.
/// </remarks>
public sealed class FileDistributedCache : IDistributedCache
{
    private static ReadOnlySpan<byte> Magic => "KDC1"u8;
    private const int HeaderLength = 4 + 8 + 8;
    private readonly TimeProvider _time;

    /// <summary>Creates a cache in <paramref name="directory"/> (created when missing).</summary>
    public FileDistributedCache(string directory, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(Directory);
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The cache's folder.</summary>
    public string Directory { get; }

    /// <inheritdoc />
    public byte[]? Get(string key) => Read(key, refresh: true);

    /// <inheritdoc />
    public Task<byte[]?> GetAsync(string key, CancellationToken token = default)
    {
        token.ThrowIfCancellationRequested();
        return Task.FromResult(Read(key, refresh: true));
    }

    /// <inheritdoc />
    public void Set(string key, byte[] value, DistributedCacheEntryOptions options)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(options);
        string path = PathOf(key);
        DateTimeOffset now = _time.GetUtcNow();
        DateTimeOffset? absolute = options.AbsoluteExpiration;
        if (options.AbsoluteExpirationRelativeToNow is { } relative)
        {
            absolute = now + relative;
        }
        var buffer = new byte[HeaderLength + value.Length];
        Magic.CopyTo(buffer);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(4), absolute?.UtcTicks ?? 0);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(12), options.SlidingExpiration?.Ticks ?? 0);
        value.CopyTo(buffer.AsSpan(HeaderLength));
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(buffer);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
            File.SetLastWriteTimeUtc(path, now.UtcDateTime);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <inheritdoc />
    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        token.ThrowIfCancellationRequested();
        Set(key, value, options);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public void Refresh(string key) => Read(key, refresh: true);

    /// <inheritdoc />
    public Task RefreshAsync(string key, CancellationToken token = default)
    {
        token.ThrowIfCancellationRequested();
        Read(key, refresh: true);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public void Remove(string key) => File.Delete(PathOf(key));

    /// <inheritdoc />
    public Task RemoveAsync(string key, CancellationToken token = default)
    {
        token.ThrowIfCancellationRequested();
        Remove(key);
        return Task.CompletedTask;
    }

    private byte[]? Read(string key, bool refresh)
    {
        string path = PathOf(key);
        byte[] bytes;
        DateTime lastWrite;
        try
        {
            bytes = File.ReadAllBytes(path);
            lastWrite = File.GetLastWriteTimeUtc(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        if (bytes.Length < HeaderLength || !bytes.AsSpan(0, 4).SequenceEqual(Magic))
        {
            File.Delete(path);   // not ours, or damaged: a miss, and out of the way of the next Set
            return null;
        }
        long absoluteTicks = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(4));
        long slidingTicks = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(12));
        DateTimeOffset now = _time.GetUtcNow();
        bool expired = (absoluteTicks != 0 && now.UtcTicks >= absoluteTicks)
            || (slidingTicks != 0 && now.UtcDateTime - lastWrite >= TimeSpan.FromTicks(slidingTicks));
        if (expired)
        {
            File.Delete(path);
            return null;
        }
        if (refresh && slidingTicks != 0)
        {
            File.SetLastWriteTimeUtc(path, now.UtcDateTime);
        }
        return bytes[HeaderLength..];
    }

    private string PathOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        return Path.Combine(Directory, hash[..2], hash + ".entry");
    }
}
