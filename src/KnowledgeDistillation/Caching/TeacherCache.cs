using System.IO.MemoryMappedFiles;
using System.Numerics.Tensors;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Caching;

/// <summary>
/// A complete teacher cache folder, memory-mapped for reading: returns dense logits or top-k targets for any set of
/// data-set indices. Opening checks that every shard is present, belongs to the same cache, is not truncated and (by
/// default) matches its SHA-256; it can also check the data set and teacher the cache must belong to.
/// </summary>
/// <remarks>Reads are thread-safe. Dispose to unmap the files.</remarks>
public sealed unsafe class TeacherCache : ITeacherTargetSource<Batch>, IDisposable
{
    private readonly Shard[] _shards;
    private readonly TeacherCacheShardHeader _header;
    private bool _disposed;

    private TeacherCache(string directory, TeacherCacheShardHeader header, Shard[] shards)
    {
        Directory = directory;
        _header = header;
        _shards = shards;
    }

    /// <summary>The cache folder.</summary>
    public string Directory { get; }

    /// <summary>The cache's description (from shard 0's header).</summary>
    public TeacherCacheShardHeader Header => _header;

    /// <summary>How rows are stored.</summary>
    public TeacherCacheFormat Format => _header.Format;

    /// <inheritdoc />
    public string TeacherId => _header.TeacherId;

    /// <inheritdoc />
    public int ClassCount => _header.ClassCount;

    /// <summary>Entries per row of a top-k cache; 0 for dense ones.</summary>
    public int TopK => _header.TopK;

    /// <inheritdoc />
    public TeacherTargetKinds Provides => _header.Format == TeacherCacheFormat.TopK ? TeacherTargetKinds.TopK : TeacherTargetKinds.DenseLogits;

    private bool IsTopK => _header.Format == TeacherCacheFormat.TopK;

    /// <summary>The data set the cache was written for.</summary>
    public DataSetFingerprint Fingerprint => _header.Fingerprint;

    /// <summary>Rows (samples) in the cache.</summary>
    public int Count => _header.Fingerprint.Count;

    /// <summary>Total size of the shard files in bytes.</summary>
    public long SizeInBytes => _shards.Sum(s => s.FileBytes);

    /// <summary>Opens a complete cache.</summary>
    /// <param name="directory">The folder holding every shard (the outputs of all workers combined).</param>
    /// <param name="expectedData">When given, the cache must have been written for a data set with this fingerprint.</param>
    /// <param name="expectedTeacherId">When given, the cache must have been written by this teacher.</param>
    /// <param name="verifyChecksums">Verify every shard's SHA-256 (reads the whole cache once); false only checks headers and sizes.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidOperationException">Shards are missing, belong to different caches, or the cache does not match the expected data set or teacher.</exception>
    /// <exception cref="InvalidDataException">A shard is truncated or corrupt (the message names the file).</exception>
    public static TeacherCache Open(string directory, DataSetFingerprint? expectedData = null, string? expectedTeacherId = null, bool verifyChecksums = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (!System.IO.Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"Teacher cache folder '{directory}' does not exist. Write it first (kd cache-teacher, or TeacherCacheWriter.WriteAsync).");
        }
        string[] files = System.IO.Directory.GetFiles(directory, ShardFile.SearchPattern);
        Array.Sort(files, StringComparer.Ordinal);
        if (files.Length == 0)
        {
            throw new InvalidOperationException($"Teacher cache folder '{directory}' holds no shard files ({ShardFile.SearchPattern}). Write the cache first (kd cache-teacher).");
        }
        var headers = files.Select(f => (Path: f, Header: ShardFile.ReadHeader(f))).ToArray();
        TeacherCacheShardHeader first = headers[0].Header;
        foreach ((string path, TeacherCacheShardHeader header) in headers)
        {
            if (!header.SameCacheAs(first))
            {
                throw new InvalidOperationException(
                    $"Teacher cache folder '{directory}' mixes shards of different caches: '{Path.GetFileName(headers[0].Path)}' is {first.Describe()}, but '{Path.GetFileName(path)}' is {header.Describe()}. Keep one cache per folder.");
            }
        }
        var byIndex = new (string Path, TeacherCacheShardHeader Header)?[first.ShardCount];
        foreach (var entry in headers)
        {
            if (Path.GetFileName(entry.Path) != ShardFile.Name(entry.Header.ShardIndex, first.ShardCount))
            {
                throw new InvalidDataException($"Teacher cache shard '{entry.Path}' holds shard {entry.Header.ShardIndex} of {first.ShardCount}; its file name says otherwise. Do not rename shard files.");
            }
            byIndex[entry.Header.ShardIndex] = entry;
        }
        int[] missing = Enumerable.Range(0, first.ShardCount).Where(i => byIndex[i] is null).ToArray();
        if (missing.Length > 0)
        {
            throw new InvalidOperationException(
                $"Teacher cache '{directory}' is incomplete: {missing.Length} of {first.ShardCount} shards are missing ({FormatList(missing)}). " +
                "Run the remaining workers (kd cache-teacher --shard i/n) or rerun without --shard; a rerun writes only the missing shards.");
        }
        CheckExpectations(directory, first, expectedData, expectedTeacherId);

        var shards = new Shard[first.ShardCount];
        try
        {
            for (int i = 0; i < shards.Length; i++)
            {
                (string path, TeacherCacheShardHeader header) = byIndex[i]!.Value;
                shards[i] = new Shard(path, header);
                if (verifyChecksums)
                {
                    ShardFile.VerifyPayload(path, header, shards[i].Payload);
                }
            }
        }
        catch
        {
            foreach (Shard? shard in shards)
            {
                shard?.Dispose();
            }
            throw;
        }
        return new TeacherCache(directory, first, shards);
    }

    /// <summary>Opens a cache and checks that it was written for <paramref name="data"/> (fingerprinted here) and, when given, this teacher.</summary>
    public static TeacherCache Open(string directory, IBatchSource<Batch> data, string? expectedTeacherId = null, bool verifyChecksums = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Open(directory, DataSetFingerprint.Compute(data), expectedTeacherId, verifyChecksums);
    }

    /// <inheritdoc />
    public void EnsureMatches(IBatchSource<Batch> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckExpectations(Directory, _header, DataSetFingerprint.Compute(data), null);
    }

    /// <summary>Copies the dense logits of the given data-set indices into <paramref name="destination"/> (<c>indices.Length × classes</c>); float16 is widened.</summary>
    /// <exception cref="InvalidOperationException">The cache is top-k (it holds no dense logits).</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside [0, <see cref="Count"/>).</exception>
    public void ReadLogits(ReadOnlySpan<int> indices, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsTopK)
        {
            throw new InvalidOperationException($"Teacher cache '{Directory}' is top-k (k = {TopK}): it holds no dense logits. Use ReadTopK, or write a float32/float16 cache.");
        }
        int classes = _header.ClassCount;
        CheckLength(destination.Length, (long)indices.Length * classes, nameof(destination));
        for (int i = 0; i < indices.Length; i++)
        {
            (Shard shard, int row) = Locate(indices[i]);
            Span<float> target = destination.Slice(i * classes, classes);
            if (_header.Format == TeacherCacheFormat.Float32)
            {
                new ReadOnlySpan<float>(shard.Payload + ((long)row * classes * sizeof(float)), classes).CopyTo(target);
            }
            else
            {
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(shard.Payload + ((long)row * classes * sizeof(ushort)), classes), target);
            }
        }
    }

    /// <summary>Copies the top-k targets of the given data-set indices (<c>indices.Length × k</c> each).</summary>
    /// <exception cref="InvalidOperationException">The cache is dense.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside [0, <see cref="Count"/>).</exception>
    public void ReadTopK(ReadOnlySpan<int> indices, Span<int> classIndices, Span<float> values)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!IsTopK)
        {
            throw new InvalidOperationException($"Teacher cache '{Directory}' is dense ({Format}); read it with ReadLogits.");
        }
        int k = _header.TopK;
        CheckLength(classIndices.Length, (long)indices.Length * k, nameof(classIndices));
        CheckLength(values.Length, (long)indices.Length * k, nameof(values));
        for (int i = 0; i < indices.Length; i++)
        {
            (Shard shard, int row) = Locate(indices[i]);
            long indexBytes = (long)shard.Header.Rows * k * sizeof(int);
            new ReadOnlySpan<int>(shard.Payload + ((long)row * k * sizeof(int)), k).CopyTo(classIndices.Slice(i * k, k));
            new ReadOnlySpan<float>(shard.Payload + indexBytes + ((long)row * k * sizeof(float)), k).CopyTo(values.Slice(i * k, k));
        }
    }

    /// <inheritdoc />
    public ValueTask<TeacherTargets> GetTargetsAsync(Batch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        cancellationToken.ThrowIfCancellationRequested();
        int rows = batch.Indices.Length;
        if (IsTopK)
        {
            var classIndices = new int[rows * TopK];
            var values = new float[rows * TopK];
            ReadTopK(batch.Indices, classIndices, values);
            return ValueTask.FromResult(TeacherTargets.Sparse(rows, ClassCount, TopK, classIndices, values, _header.ValueKind));
        }
        var logits = new float[rows * ClassCount];
        ReadLogits(batch.Indices, logits);
        return ValueTask.FromResult(TeacherTargets.Dense(new Float32Tensor(logits, rows, ClassCount)));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (Shard shard in _shards)
        {
            shard.Dispose();
        }
    }

    private (Shard Shard, int Row) Locate(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Sample index {index} is outside the cache's [0, {Count}).");
        }
        int shard = index / _header.RowsPerShard;
        return (_shards[shard], index - (shard * _header.RowsPerShard));
    }

    private static void CheckExpectations(string directory, TeacherCacheShardHeader header, DataSetFingerprint? expectedData, string? expectedTeacherId)
    {
        if (expectedData is not null && !header.Fingerprint.Matches(expectedData))
        {
            throw new InvalidOperationException(
                $"Teacher cache '{directory}' was written for a different data set and was not used: the cache holds {header.Fingerprint.Describe()}, " +
                $"the data set is {expectedData.Describe()}. Write the cache again for this data set (same subset, order and preprocessing, no augmentation).");
        }
        if (expectedTeacherId is not null && header.TeacherId != expectedTeacherId)
        {
            throw new InvalidOperationException(
                $"Teacher cache '{directory}' was written by teacher '{header.TeacherId}', not '{expectedTeacherId}', and was not used. Write the cache again with this teacher, or point to the right folder.");
        }
    }

    private static void CheckLength(int actual, long expected, string name)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"{name} has {actual} elements; {expected} are needed.", name);
        }
    }

    private static string FormatList(int[] items) =>
        items.Length <= 12 ? string.Join(", ", items) : string.Join(", ", items.Take(12)) + $", … ({items.Length - 12} more)";

    private sealed class Shard : IDisposable
    {
        private readonly MemoryMappedFile _file;
        private readonly MemoryMappedViewAccessor _view;
        private readonly byte* _base;

        public Shard(string path, TeacherCacheShardHeader header)
        {
            Header = header;
            FileBytes = header.PayloadOffset + header.PayloadBytes;
            _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, capacity: 0, MemoryMappedFileAccess.Read);
            try
            {
                _view = _file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
                if (_view.Capacity < FileBytes)
                {
                    throw new InvalidDataException($"Teacher cache shard '{path}' is truncated: {_view.Capacity} bytes mapped, {FileBytes} needed.");
                }
                byte* pointer = null;
                _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
                _base = pointer + _view.PointerOffset;
            }
            catch
            {
                _view?.Dispose();
                _file.Dispose();
                throw;
            }
        }

        public TeacherCacheShardHeader Header { get; }

        public long FileBytes { get; }

        public byte* Payload => _base + Header.PayloadOffset;

        public void Dispose()
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _file.Dispose();
        }
    }
}
