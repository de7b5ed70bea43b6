using System.Text.Json;
using KnowledgeDistillation.Caching;
using KnowledgeDistillation.Cli.Cache;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Cli.Distill;

namespace KnowledgeDistillation.Cli.Tests;

public sealed class CacheTeacherCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-cli-cache-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private DistillSettings Distill(string json, string? teacherCache = null) => new()
    {
        Teacher = "mlp:32",
        Student = "mlp:8",
        TeacherEpochs = 1,
        Epochs = 1,
        Seeds = [0],
        TrainLimit = 300,
        TestLimit = 100,
        LatencyIterations = 2,
        Threads = 1,
        OutputDirectory = Path.Combine(_dir, "out"),
        CacheDirectory = Path.Combine(_dir, "teachers"),
        JsonPath = json,
        TeacherCachePath = teacherCache,
    };

    private CacheTeacherSettings Cache(string folder, string format = "float32", string shard = "0/1", int? trainLimit = 300) => new()
    {
        OutputDirectory = folder,
        Teacher = "mlp:32",
        TeacherDirectory = Path.Combine(_dir, "teachers"),
        TeacherEpochs = 1,
        Format = format,
        TopK = 3,
        Shard = shard,
        RowsPerShard = 128,
        Threads = 1,
        TrainLimit = trainLimit,
    };

    private static double StudentAccuracy(string json)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        return doc.RootElement.GetProperty("student_kd").GetProperty("accuracy").GetDouble();
    }

    [Fact]
    public async Task CacheTeacher_InTwoShardJobs_ThenDistillFromTheCache_MatchesTheLiveTeacherRun()
    {
        string live = Path.Combine(_dir, "live.json"), cached = Path.Combine(_dir, "cached.json"), topk = Path.Combine(_dir, "topk.json");
        (await DistillCommand.RunAsync(Distill(live), new StringWriter(), CancellationToken.None)).Should().Be(0);

        string dense = Path.Combine(_dir, "dense-cache");
        var log = new StringWriter();
        (await CacheTeacherCommand.RunAsync(Cache(dense, shard: "1/2"), log, CancellationToken.None)).Should().Be(0, log.ToString());
        log.ToString().Should().Contain("1 shard(s) written, 0 already present, of 1 assigned (3 in the cache)");
        (await CacheTeacherCommand.RunAsync(Cache(dense, shard: "0/2"), log, CancellationToken.None)).Should().Be(0, log.ToString());
        Directory.GetFiles(dense, "*.kdtc").Should().HaveCount(3);
        (await CacheTeacherCommand.RunAsync(Cache(dense), log, CancellationToken.None)).Should().Be(0);
        log.ToString().Should().Contain("0 shard(s) written, 3 already present");

        var distillLog = new StringWriter();
        (await DistillCommand.RunAsync(Distill(cached, dense), distillLog, CancellationToken.None)).Should().Be(0, distillLog.ToString());
        distillLog.ToString().Should().Contain("read teacher targets from cache").And.Contain("Float32, 300 rows");
        StudentAccuracy(cached).Should().Be(StudentAccuracy(live), "a float32 cache gives exactly the live teacher's training");

        string sparse = Path.Combine(_dir, "topk-cache");
        (await CacheTeacherCommand.RunAsync(Cache(sparse, format: "topk"), log, CancellationToken.None)).Should().Be(0);
        using (TeacherCache cache = TeacherCache.Open(sparse))
        {
            cache.TopK.Should().Be(3);
            cache.Header.BytesPerRow.Should().Be(24);
        }
        var topkLog = new StringWriter();
        (await DistillCommand.RunAsync(Distill(topk, sparse), topkLog, CancellationToken.None)).Should().Be(0, topkLog.ToString());
        topkLog.ToString().Should().Contain("TopK k=3, 300 rows");
        File.Exists(topk).Should().BeTrue();
    }

    [Fact]
    public async Task ACacheOfOtherImages_OrAMissingTeacher_IsRefusedWithExitCode2()
    {
        (await DistillCommand.RunAsync(Distill(Path.Combine(_dir, "live.json")), new StringWriter(), CancellationToken.None)).Should().Be(0);
        string folder = Path.Combine(_dir, "other");
        // The teacher is found by kd distill's key, which covers its training images: write with --teacher-weights instead.
        string weights = Directory.GetFiles(Path.Combine(_dir, "teachers"), "teacher-*.weights").Single();
        (await CacheTeacherCommand.RunAsync(Cache(folder, trainLimit: 200) with { TeacherWeights = weights }, new StringWriter(), CancellationToken.None)).Should().Be(0);

        (await DistillCommand.RunAsync(Distill(Path.Combine(_dir, "x.json"), folder), new StringWriter(), CancellationToken.None)).Should().Be(2, "the cache holds 200 images, training uses 300");
        File.Exists(Path.Combine(_dir, "x.json")).Should().BeFalse();
        (await CacheTeacherCommand.RunAsync(Cache(Path.Combine(_dir, "y"), trainLimit: 250), new StringWriter(), CancellationToken.None)).Should().Be(2, "no teacher was trained on these 250 images");
        (await CacheTeacherCommand.RunAsync(Cache(Path.Combine(_dir, "z"), format: "int8"), new StringWriter(), CancellationToken.None)).Should().Be(2);
    }
}
