using KnowledgeDistillation.Abstractions;
using FluentAssertions;
using KnowledgeDistillation.Caching;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Tests.Caching;

public sealed class TeacherCacheTests : IDisposable
{
    private const int Classes = 7;
    private readonly List<string> _folders = [];

    private string Folder()
    {
        string folder = CacheData.TempFolder();
        _folders.Add(folder);
        return folder;
    }

    public void Dispose()
    {
        foreach (string folder in _folders)
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static int[] Shuffled(int count, int seed)
    {
        int[] order = Enumerable.Range(0, count).ToArray();
        new Random(seed).Shuffle(order);
        return order;
    }

    [Fact]
    public async Task Float32_RoundTripsEveryRowExactly_AcrossUnevenShards()
    {
        LabeledImageSet data = CacheData.Images(103, Classes, seed: 1);
        using var teacher = new LinearTeacher(16, Classes, seed: 2);
        string folder = Folder();
        TeacherCacheWriteResult result = await TeacherCacheWriter.WriteAsync(teacher, data, folder, new TeacherCacheOptions { RowsPerShard = 32, BatchSize = 10 });

        result.ShardCount.Should().Be(4);
        result.ShardsWritten.Should().Be(4);
        result.RowsWritten.Should().Be(103);
        Directory.GetFiles(folder).Select(Path.GetFileName).Should().BeEquivalentTo(
            "shard-00000-of-00004.kdtc", "shard-00001-of-00004.kdtc", "shard-00002-of-00004.kdtc", "shard-00003-of-00004.kdtc");

        using TeacherCache cache = TeacherCache.Open(folder, data, expectedTeacherId: "linear");
        int[] indices = Shuffled(103, 3);
        var logits = new float[indices.Length * Classes];
        cache.ReadLogits(indices, logits);
        float[] expected = teacher.Logits(data.Pixels);
        for (int i = 0; i < indices.Length; i++)
        {
            logits.AsSpan(i * Classes, Classes).ToArray().Should().Equal(expected.AsSpan(indices[i] * Classes, Classes).ToArray());
        }
        cache.Count.Should().Be(103);
        cache.Provides.Should().Be(TeacherTargetKinds.DenseLogits);
        cache.Header.BytesPerRow.Should().Be(4 * Classes);
    }

    [Fact]
    public async Task Float16_StoresTheRoundedLogits()
    {
        LabeledImageSet data = CacheData.Images(40, Classes, seed: 4);
        using var teacher = new LinearTeacher(16, Classes, seed: 5);
        string folder = Folder();
        await TeacherCacheWriter.WriteAsync(teacher, data, folder, new TeacherCacheOptions { Format = TeacherCacheFormat.Float16, RowsPerShard = 16 });

        using TeacherCache cache = TeacherCache.Open(folder, data);
        var logits = new float[40 * Classes];
        cache.ReadLogits(Enumerable.Range(0, 40).ToArray(), logits);
        float[] expected = teacher.Logits(data.Pixels);
        logits.Should().Equal(expected.Select(v => (float)(Half)v));
        logits.Zip(expected).Max(p => Math.Abs(p.First - p.Second) / Math.Max(1, Math.Abs(p.Second))).Should().BeLessThan(1e-3f, "float16 keeps 11 significant bits");
        cache.Header.BytesPerRow.Should().Be(2 * Classes);
        cache.SizeInBytes.Should().Be((3 * cache.Header.PayloadOffset) + (40 * 2 * Classes), "three shards, each a 64-byte-aligned header and its rows");
    }

    [Theory]
    [InlineData(TopKValueKind.Logits)]
    [InlineData(TopKValueKind.LogProbabilities)]
    public async Task TopK_StoresTheLargestEntriesOfEachRow(TopKValueKind kind)
    {
        LabeledImageSet data = CacheData.Images(50, Classes, seed: 6);
        using var teacher = new LinearTeacher(16, Classes, seed: 7);
        string folder = Folder();
        await TeacherCacheWriter.WriteAsync(teacher, data, folder, new TeacherCacheOptions { Format = TeacherCacheFormat.TopK, TopK = 3, TopKValues = kind, RowsPerShard = 20, BatchSize = 7 });

        using TeacherCache cache = TeacherCache.Open(folder, data);
        cache.TopK.Should().Be(3);
        int[] rows = Shuffled(50, 8);
        var indices = new int[rows.Length * 3];
        var values = new float[rows.Length * 3];
        cache.ReadTopK(rows, indices, values);
        float[] logits = teacher.Logits(data.Pixels);
        for (int i = 0; i < rows.Length; i++)
        {
            double[] row = logits.AsSpan(rows[i] * Classes, Classes).ToArray().Select(v => (double)v).ToArray();
            int[] best = Enumerable.Range(0, Classes).OrderByDescending(c => row[c]).ThenBy(c => c).Take(3).ToArray();
            indices.AsSpan(i * 3, 3).ToArray().Should().Equal(best);
            double logSum = row.Max() + Math.Log(row.Sum(v => Math.Exp(v - row.Max())));
            for (int j = 0; j < 3; j++)
            {
                double expected = kind == TopKValueKind.Logits ? row[best[j]] : row[best[j]] - logSum;
                values[(i * 3) + j].Should().BeApproximately((float)expected, 1e-5f);
            }
        }
        cache.Invoking(c => c.ReadLogits([0], new float[Classes])).Should().Throw<InvalidOperationException>().WithMessage("*top-k*");
    }

    [Fact]
    public async Task ShardsWrittenByIndependentWorkers_EqualOneRun_AndAnIncompleteFolderIsRefused()
    {
        LabeledImageSet data = CacheData.Images(90, Classes, seed: 9);
        using var teacher = new LinearTeacher(16, Classes, seed: 10);
        var options = new TeacherCacheOptions { RowsPerShard = 20, BatchSize = 8 };
        string single = Folder(), parallel = Folder();
        await TeacherCacheWriter.WriteAsync(teacher, data, single, options);

        TeacherCacheWriteResult first = await TeacherCacheWriter.WriteAsync(teacher, data, parallel, new TeacherCacheOptions { RowsPerShard = 20, BatchSize = 8, Shard = ShardSelection.Parse("1/3") });
        first.AssignedShards.Should().Be(2); // shards 1 and 4 of 5
        Action open = () => TeacherCache.Open(parallel).Dispose();
        open.Should().Throw<InvalidOperationException>().WithMessage("*incomplete: 3 of 5 shards are missing (0, 2, 3)*");

        await TeacherCacheWriter.WriteAsync(teacher, data, parallel, new TeacherCacheOptions { RowsPerShard = 20, BatchSize = 8, Shard = new ShardSelection(2, 3) });
        await TeacherCacheWriter.WriteAsync(teacher, data, parallel, new TeacherCacheOptions { RowsPerShard = 20, BatchSize = 8, Shard = new ShardSelection(0, 3) });
        CacheData.Files(parallel).Should().BeEquivalentTo(CacheData.Files(single));
        using TeacherCache cache = TeacherCache.Open(parallel, data);
        cache.Count.Should().Be(90);
    }

    [Fact]
    public async Task AnInterruptedRun_ResumesAtTheFirstMissingShard_AndEndsIdenticalToAnUninterruptedRun()
    {
        LabeledImageSet data = CacheData.Images(100, Classes, seed: 11);
        var options = new TeacherCacheOptions { Format = TeacherCacheFormat.TopK, TopK = 4, RowsPerShard = 25, BatchSize = 10 };
        string reference = Folder(), resumed = Folder();
        using (var teacher = new LinearTeacher(16, Classes, seed: 12))
        {
            await TeacherCacheWriter.WriteAsync(teacher, data, reference, options);
        }

        using var cts = new CancellationTokenSource();
        using var interrupted = new LinearTeacher(16, Classes, seed: 12) { CancelAfter = cts, CancelAfterCalls = 7 };
        Func<Task> run = () => TeacherCacheWriter.WriteAsync(interrupted, data, resumed, options, cancellationToken: cts.Token);
        await run.Should().ThrowAsync<OperationCanceledException>();
        // 7 calls of 10 rows: shards 0 and 1 (25 rows = 3 calls each) are complete, shard 2 is not.
        Directory.GetFiles(resumed, "*.kdtc").Select(Path.GetFileName).Should().BeEquivalentTo("shard-00000-of-00004.kdtc", "shard-00001-of-00004.kdtc");

        using var again = new LinearTeacher(16, Classes, seed: 12);
        TeacherCacheWriteResult result = await TeacherCacheWriter.WriteAsync(again, data, resumed, options);
        result.ShardsSkipped.Should().Be(2);
        result.ShardsWritten.Should().Be(2);
        again.RowsSeen.Should().Be(50, "only the two missing shards are recomputed");
        CacheData.Files(resumed).Should().BeEquivalentTo(CacheData.Files(reference));

        TeacherCacheWriteResult nothingLeft = await TeacherCacheWriter.WriteAsync(again, data, resumed, options);
        nothingLeft.ShardsWritten.Should().Be(0);
    }

    [Fact]
    public async Task ACacheOfAnotherDataSetOrTeacher_IsRefusedWithAClearMessage()
    {
        LabeledImageSet data = CacheData.Images(30, Classes, seed: 13);
        using var teacher = new LinearTeacher(16, Classes, seed: 14, name: "teacher-a");
        string folder = Folder();
        await TeacherCacheWriter.WriteAsync(teacher, data, folder, new TeacherCacheOptions { RowsPerShard = 8 });

        float[] pixels = (float[])data.Pixels.Clone();
        pixels[17] += 0.5f;
        var changed = new LabeledImageSet(pixels, data.Labels, 4, 4, Classes, "changed");
        Action wrongData = () => TeacherCache.Open(folder, changed).Dispose();
        wrongData.Should().Throw<InvalidOperationException>().WithMessage("*was written for a different data set and was not used*");
        Action fewer = () => TeacherCache.Open(folder, data.Take(29)).Dispose();
        fewer.Should().Throw<InvalidOperationException>().WithMessage("*30 samples*29 samples*");
        Action wrongTeacher = () => TeacherCache.Open(folder, data, expectedTeacherId: "teacher-b").Dispose();
        wrongTeacher.Should().Throw<InvalidOperationException>().WithMessage("*written by teacher 'teacher-a', not 'teacher-b'*");

        using var other = new LinearTeacher(16, Classes, seed: 15, name: "teacher-b");
        Func<Task> overwrite = () => TeacherCacheWriter.WriteAsync(other, data, folder, new TeacherCacheOptions { RowsPerShard = 8 });
        await overwrite.Should().ThrowAsync<InvalidOperationException>().WithMessage("*already holds a different teacher cache*");

        using TeacherCache cache = TeacherCache.Open(folder);
        cache.Invoking(c => c.EnsureMatches(changed)).Should().Throw<InvalidOperationException>();
        cache.EnsureMatches(data);
    }

    [Fact]
    public async Task ACorruptOrTruncatedShard_ThrowsInvalidDataExceptionNamingTheFile_AndARerunRepairsIt()
    {
        LabeledImageSet data = CacheData.Images(40, Classes, seed: 16);
        using var teacher = new LinearTeacher(16, Classes, seed: 17);
        string folder = Folder();
        var options = new TeacherCacheOptions { RowsPerShard = 16 };
        await TeacherCacheWriter.WriteAsync(teacher, data, folder, options);
        Dictionary<string, byte[]> good = CacheData.Files(folder);

        string corrupt = Path.Combine(folder, "shard-00001-of-00003.kdtc");
        byte[] bytes = File.ReadAllBytes(corrupt);
        bytes[^5] ^= 0x40;
        File.WriteAllBytes(corrupt, bytes);
        Action open = () => TeacherCache.Open(folder).Dispose();
        open.Should().Throw<InvalidDataException>().WithMessage("*shard-00001-of-00003.kdtc*SHA-256*");

        string truncated = Path.Combine(folder, "shard-00002-of-00003.kdtc");
        byte[] whole = File.ReadAllBytes(truncated);
        File.WriteAllBytes(truncated, whole[..^3]);
        open.Should().Throw<InvalidDataException>().WithMessage("*shard-00002-of-00003.kdtc*truncated*");
        File.WriteAllBytes(truncated, whole[..10]);
        open.Should().Throw<InvalidDataException>().WithMessage("*shard-00002-of-00003.kdtc*");

        TeacherCacheWriteResult repaired = await TeacherCacheWriter.WriteAsync(teacher, data, folder, options);
        repaired.ShardsWritten.Should().Be(2);
        CacheData.Files(folder).Should().BeEquivalentTo(good);
    }

    [Fact]
    public async Task BadOptionsAndIndices_AreRejectedWithMessagesThatNameThem()
    {
        LabeledImageSet data = CacheData.Images(10, Classes, seed: 18);
        using var teacher = new LinearTeacher(16, Classes, seed: 19);
        Func<Task> badK = () => TeacherCacheWriter.WriteAsync(teacher, data, Folder(), new TeacherCacheOptions { Format = TeacherCacheFormat.TopK, TopK = 8, RowsPerShard = 0 });
        (await badK.Should().ThrowAsync<ArgumentException>()).WithMessage("*K = 8 must be in [1, classes = 7]*RowsPerShard = 0*");
        FluentActions.Invoking(() => ShardSelection.Parse("3/3")).Should().Throw<FormatException>().WithMessage("*'3/3'*0 <= i < n*");
        ShardSelection.Parse("2/5").Should().Be(new ShardSelection(2, 5));

        string folder = Folder();
        await TeacherCacheWriter.WriteAsync(teacher, data, folder);
        using TeacherCache cache = TeacherCache.Open(folder);
        cache.Invoking(c => c.ReadLogits([10], new float[Classes])).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*10 is outside*[0, 10)*");
        FluentActions.Invoking(() => TeacherCache.Open(Path.Combine(folder, "missing"))).Should().Throw<DirectoryNotFoundException>();
        FluentActions.Invoking(() => TeacherCache.Open(Folder())).Should().Throw<InvalidOperationException>().WithMessage("*holds no shard files*");
    }

    [Fact]
    public async Task GetTargetsAsync_ReturnsTheBatchRowsInBatchOrder()
    {
        LabeledImageSet data = CacheData.Images(64, Classes, seed: 20);
        using var teacher = new LinearTeacher(16, Classes, seed: 21);
        string dense = Folder(), sparse = Folder();
        await TeacherCacheWriter.WriteAsync(teacher, data, dense, new TeacherCacheOptions { RowsPerShard = 10 });
        await TeacherCacheWriter.WriteAsync(teacher, data, sparse, new TeacherCacheOptions { Format = TeacherCacheFormat.TopK, TopK = 2, RowsPerShard = 10 });
        using TeacherCache denseCache = TeacherCache.Open(dense), sparseCache = TeacherCache.Open(sparse);
        foreach (Batch batch in data.GetBatches(16, shuffle: true, seed: 3, epoch: 1))
        {
            var denseTargets = await denseCache.GetTargetsAsync(batch);
            denseTargets.Logits!.Data.ToArray().Should().Equal(teacher.Logits(batch.Inputs.Data.Span));
            var sparseTargets = await sparseCache.GetTargetsAsync(batch);
            sparseTargets.Kind.Should().Be(TeacherTargetKinds.TopK);
            var indices = new int[batch.Labels.Length * 2];
            var values = new float[indices.Length];
            DistillationPrimitives.TopK(teacher.Logits(batch.Inputs.Data.Span), Classes, 2, indices, values);
            sparseTargets.TopKIndices.ToArray().Should().Equal(indices);
            sparseTargets.TopKValues.ToArray().Should().Equal(values);
        }
    }
}
