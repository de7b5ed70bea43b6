using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Caching;

/// <summary>Progress of <see cref="TeacherCacheWriter.WriteAsync"/>, reported after each shard written.</summary>
/// <param name="Shard">The shard just written.</param>
/// <param name="ShardsWritten">Shards written so far in this run.</param>
/// <param name="ShardsToWrite">Shards this run writes (assigned to this worker and not already present).</param>
/// <param name="Path">The file written.</param>
public sealed record TeacherCacheProgress(int Shard, int ShardsWritten, int ShardsToWrite, string Path);

/// <summary>What one <see cref="TeacherCacheWriter.WriteAsync"/> call did.</summary>
/// <param name="ShardCount">Shards of the whole cache.</param>
/// <param name="AssignedShards">Shards assigned to this worker.</param>
/// <param name="ShardsWritten">Shards written by this call.</param>
/// <param name="ShardsSkipped">Assigned shards already present and valid (a resumed run skips them).</param>
/// <param name="RowsWritten">Rows written by this call.</param>
/// <param name="BytesPerRow">Payload bytes per row.</param>
/// <param name="Header">The cache's description (of the last shard written or checked).</param>
public sealed record TeacherCacheWriteResult(int ShardCount, int AssignedShards, int ShardsWritten, int ShardsSkipped, long RowsWritten, int BytesPerRow, TeacherCacheShardHeader Header);

/// <summary>
/// Runs a teacher once over a data set and writes its outputs to a cache folder (dense float32/float16 or top-k), in
/// shards of <see cref="TeacherCacheOptions.RowsPerShard"/> rows, each written atomically. A run that is interrupted
/// resumes at the first missing shard; a folder holding another teacher's or data set's cache is refused.
/// </summary>
/// <remarks>
/// Shard <c>j</c> holds data-set indices <c>[j·R, (j+1)·R)</c>, and the teacher sees them in batches aligned to the
/// shard's start, so a shard's bytes depend only on (teacher, data, options) — not on which worker or run wrote it.
/// </remarks>
public static class TeacherCacheWriter
{
    /// <summary>The largest payload of one shard (1 GiB): a shard is built in memory before it is written.</summary>
    public const long MaxShardBytes = 1L << 30;

    /// <summary>Writes the shards of <paramref name="options"/>' <see cref="TeacherCacheOptions.Shard"/> selection that are not already present.</summary>
    /// <param name="teacher">The teacher; called with batches of at most <see cref="TeacherCacheOptions.BatchSize"/> rows.</param>
    /// <param name="data">The data set; rows are identified by <see cref="Batch.Indices"/>, which must cover [0, Count).</param>
    /// <param name="directory">The cache folder (created if missing).</param>
    /// <param name="options">Format, k, shard size and selection; validated first.</param>
    /// <param name="progress">Reports each shard written.</param>
    /// <param name="cancellationToken">Stops between teacher calls; shards already written stay valid.</param>
    /// <exception cref="InvalidOperationException">The folder holds shards of a different cache (teacher, data set, format or layout).</exception>
    public static async Task<TeacherCacheWriteResult> WriteAsync(
        ITeacher teacher, IBatchSource<Batch> data, string directory, TeacherCacheOptions? options = null,
        IProgress<TeacherCacheProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        options ??= new TeacherCacheOptions();
        int classes = teacher.Metadata.ClassCount;
        options.Validate(classes);
        if (data.Count == 0)
        {
            throw new ArgumentException("The data set is empty: there is nothing to cache.", nameof(data));
        }
        if (data.ClassCount != classes)
        {
            throw new ArgumentException($"The data set has {data.ClassCount} classes but teacher '{teacher.Metadata.Name}' has {classes}.", nameof(data));
        }

        DataSetFingerprint fingerprint = DataSetFingerprint.Compute(data);
        int shardCount = (int)(((long)data.Count + options.RowsPerShard - 1) / options.RowsPerShard);
        var template = new TeacherCacheShardHeader
        {
            Format = options.Format,
            ClassCount = classes,
            TopK = options.Format == TeacherCacheFormat.TopK ? options.TopK : 0,
            ValueKind = options.Format == TeacherCacheFormat.TopK ? options.TopKValues : TopKValueKind.Logits,
            TeacherId = options.TeacherId ?? teacher.Metadata.Name,
            Fingerprint = fingerprint,
            RowsPerShard = options.RowsPerShard,
            ShardCount = shardCount,
            BatchSize = options.BatchSize,
        };

        if ((long)Math.Min(options.RowsPerShard, data.Count) * template.BytesPerRow > MaxShardBytes)
        {
            throw new ArgumentException(
                $"RowsPerShard = {options.RowsPerShard} rows of {template.BytesPerRow} bytes exceed the {MaxShardBytes >> 20} MiB shard limit; use at most {MaxShardBytes / template.BytesPerRow} rows per shard.", nameof(options));
        }
        Directory.CreateDirectory(directory);
        RefuseForeignShards(directory, template);
        var assigned = Enumerable.Range(0, shardCount).Where(options.Shard.Includes).ToArray();
        var pending = new SortedSet<int>();
        foreach (int shard in assigned)
        {
            string path = Path.Combine(directory, ShardFile.Name(shard, shardCount));
            if (!File.Exists(path) || !ShardFile.TryVerify(path, out TeacherCacheShardHeader? existing, out _) || !existing!.SameCacheAs(template) || existing.ShardIndex != shard)
            {
                pending.Add(shard);
            }
        }
        DeleteStaleTemporaries(directory, pending, shardCount);

        int skipped = assigned.Length - pending.Count;
        if (pending.Count == 0)
        {
            return new TeacherCacheWriteResult(shardCount, assigned.Length, 0, skipped, 0, template.BytesPerRow, template);
        }

        var writer = new Writer(teacher, directory, template, data.SampleShape, pending, progress);
        foreach (Batch batch in data.GetBatches(options.BatchSize, shuffle: false, seed: 0, epoch: 0))
        {
            cancellationToken.ThrowIfCancellationRequested();
            await writer.AddAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        if (!writer.Done)
        {
            throw new InvalidOperationException($"The data set did not yield every index in [0, {data.Count}): shards {string.Join(", ", writer.Unfinished)} stayed incomplete. Batch.Indices must cover the data set.");
        }
        return new TeacherCacheWriteResult(shardCount, assigned.Length, writer.ShardsWritten, skipped, writer.RowsWritten, template.BytesPerRow, writer.LastHeader ?? template);
    }

    private static void RefuseForeignShards(string directory, TeacherCacheShardHeader template)
    {
        foreach (string path in Directory.EnumerateFiles(directory, ShardFile.SearchPattern))
        {
            TeacherCacheShardHeader header;
            try
            {
                header = ShardFile.ReadHeader(path);
            }
            catch (InvalidDataException)
            {
                continue; // A damaged shard of this cache is rewritten when it is assigned to this worker.
            }
            if (!header.SameCacheAs(template))
            {
                throw new InvalidOperationException(
                    $"Folder '{directory}' already holds a different teacher cache (shard '{Path.GetFileName(path)}': {header.Describe()}); " +
                    $"this run would write {template.Describe()}. Use another folder, or delete the old cache first.");
            }
        }
    }

    private static void DeleteStaleTemporaries(string directory, SortedSet<int> pending, int shardCount)
    {
        // Temporaries of shards this worker is about to write are leftovers of an interrupted run.
        foreach (int shard in pending)
        {
            foreach (string temp in Directory.EnumerateFiles(directory, ShardFile.Name(shard, shardCount) + ".*.tmp"))
            {
                ShardFile.TryDelete(temp);
            }
        }
    }

    /// <summary>Gathers rows into shard-aligned teacher batches, runs the teacher, encodes rows and writes finished shards.</summary>
    private sealed class Writer(ITeacher teacher, string directory, TeacherCacheShardHeader template, IReadOnlyList<int> sampleShape, SortedSet<int> pending, IProgress<TeacherCacheProgress>? progress)
    {
        private readonly int _sampleSize = sampleShape.Aggregate(1, (a, b) => a * b);
        private readonly Dictionary<int, Chunk> _chunks = [];
        private readonly Dictionary<int, byte[]> _payloads = [];
        private readonly Dictionary<int, int> _rowsDone = [];
        private readonly int _toWrite = pending.Count;

        public int ShardsWritten { get; private set; }

        public long RowsWritten { get; private set; }

        public TeacherCacheShardHeader? LastHeader { get; private set; }

        public bool Done => pending.Count == 0;

        public IEnumerable<int> Unfinished => pending;

        public async Task AddAsync(Batch batch, CancellationToken cancellationToken)
        {
            ReadOnlySpan<float> inputs = batch.Inputs.Data.Span;
            if (batch.Inputs.RowLength != _sampleSize)
            {
                throw new InvalidOperationException($"A batch has rows of {batch.Inputs.RowLength} values; the data set's sample shape [{string.Join(", ", sampleShape)}] has {_sampleSize}.");
            }
            var ready = new List<int>();
            for (int r = 0; r < batch.Indices.Length; r++)
            {
                int index = batch.Indices[r];
                if ((uint)index >= (uint)template.Fingerprint.Count)
                {
                    throw new InvalidOperationException($"The data set yielded index {index}, outside [0, {template.Fingerprint.Count}).");
                }
                int shard = index / template.RowsPerShard;
                if (!pending.Contains(shard))
                {
                    continue;
                }
                int offsetInShard = index - (shard * template.RowsPerShard);
                int chunkId = index - (offsetInShard % template.BatchSize);
                if (!_chunks.TryGetValue(chunkId, out Chunk? chunk))
                {
                    int shardEnd = Math.Min((shard + 1) * template.RowsPerShard, template.Fingerprint.Count);
                    chunk = new Chunk(shard, chunkId, Math.Min(template.BatchSize, shardEnd - chunkId), _sampleSize);
                    _chunks.Add(chunkId, chunk);
                }
                if (chunk.Add(index - chunkId, inputs.Slice(r * _sampleSize, _sampleSize)))
                {
                    ready.Add(chunkId);
                }
            }
            foreach (int chunkId in ready)
            {
                Chunk chunk = _chunks[chunkId];
                _chunks.Remove(chunkId);
                await RunAsync(chunk, cancellationToken).ConfigureAwait(false);
            }
        }

        private async Task RunAsync(Chunk chunk, CancellationToken cancellationToken)
        {
            int[] shape = [chunk.Rows, .. sampleShape];
            ModelOutput output = await teacher.InferAsync(new Float32Tensor(chunk.Inputs, shape), null, cancellationToken).ConfigureAwait(false);
            Float32Tensor logits = output.Logits;
            if (logits.Shape.Count != 2 || logits.Shape[0] != chunk.Rows || logits.Shape[1] != template.ClassCount)
            {
                throw new InvalidOperationException($"Teacher '{teacher.Metadata.Name}' returned logits {logits.ShapeText} for {chunk.Rows} rows; expected [{chunk.Rows}, {template.ClassCount}].");
            }
            int shardRows = ShardRows(chunk.Shard);
            if (!_payloads.TryGetValue(chunk.Shard, out byte[]? payload))
            {
                payload = new byte[(long)shardRows * template.BytesPerRow];
                _payloads.Add(chunk.Shard, payload);
            }
            int firstRow = chunk.FirstIndex - (chunk.Shard * template.RowsPerShard);
            Encode(logits.Data.Span, chunk.Rows, payload, firstRow, shardRows);
            int done = _rowsDone.GetValueOrDefault(chunk.Shard) + chunk.Rows;
            _rowsDone[chunk.Shard] = done;
            if (done == shardRows)
            {
                string path = Path.Combine(directory, ShardFile.Name(chunk.Shard, template.ShardCount));
                TeacherCacheShardHeader header = template with { ShardIndex = chunk.Shard, FirstRow = chunk.Shard * template.RowsPerShard, Rows = shardRows };
                ShardFile.Write(path, header, payload);
                _payloads.Remove(chunk.Shard);
                _rowsDone.Remove(chunk.Shard);
                pending.Remove(chunk.Shard);
                ShardsWritten++;
                RowsWritten += shardRows;
                LastHeader = header;
                progress?.Report(new TeacherCacheProgress(chunk.Shard, ShardsWritten, _toWrite, path));
            }
        }

        private int ShardRows(int shard) => Math.Min(template.RowsPerShard, template.Fingerprint.Count - (shard * template.RowsPerShard));

        private void Encode(ReadOnlySpan<float> logits, int rows, byte[] payload, int firstRow, int shardRows)
        {
            int classes = template.ClassCount;
            switch (template.Format)
            {
                case TeacherCacheFormat.Float32:
                    MemoryMarshal.AsBytes(logits).CopyTo(payload.AsSpan(firstRow * classes * sizeof(float)));
                    break;
                case TeacherCacheFormat.Float16:
                    TensorPrimitives.ConvertToHalf(logits, MemoryMarshal.Cast<byte, Half>(payload.AsSpan()).Slice(firstRow * classes, rows * classes));
                    break;
                default:
                    int k = template.TopK;
                    ReadOnlySpan<float> source = logits;
                    float[]? logProbabilities = null;
                    if (template.ValueKind == TopKValueKind.LogProbabilities)
                    {
                        logProbabilities = new float[logits.Length];
                        DistillationPrimitives.LogSoftmax(logits, classes, 1f, logProbabilities);
                        source = logProbabilities;
                    }
                    // Layout: all indices of the shard (int32, rows × k), then all values (float32, rows × k).
                    Span<int> indices = MemoryMarshal.Cast<byte, int>(payload.AsSpan(0, shardRows * k * sizeof(int))).Slice(firstRow * k, rows * k);
                    Span<float> values = MemoryMarshal.Cast<byte, float>(payload.AsSpan(shardRows * k * sizeof(int))).Slice(firstRow * k, rows * k);
                    DistillationPrimitives.TopK(source, classes, k, indices, values);
                    break;
            }
        }
    }

    private sealed class Chunk(int shard, int firstIndex, int rows, int sampleSize)
    {
        private readonly bool[] _present = new bool[rows];
        private int _count;

        public int Shard => shard;

        public int FirstIndex => firstIndex;

        public int Rows => rows;

        public float[] Inputs { get; } = new float[rows * sampleSize];

        /// <summary>Adds one row; true when the chunk is complete.</summary>
        public bool Add(int row, ReadOnlySpan<float> sample)
        {
            if (_present[row])
            {
                throw new InvalidOperationException($"The data set yielded index {firstIndex + row} twice in one pass.");
            }
            _present[row] = true;
            sample.CopyTo(Inputs.AsSpan(row * sampleSize));
            return ++_count == rows;
        }
    }
}
