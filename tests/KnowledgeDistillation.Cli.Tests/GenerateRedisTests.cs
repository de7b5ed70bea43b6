using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Extensions.AI.Generation;
using KnowledgeDistillation.Extensions.AI.Tests.Server;

namespace KnowledgeDistillation.Cli.Tests;

/// <summary>kd generate --cache redis://… against a real redis-server started (and always stopped) by each test.</summary>
public sealed class GenerateRedisTests : GenerateCliTestBase
{
    [Fact]
    public async Task RedisCache_ASecondRunMakesNoRequest()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        string prompts = Prompts(Enumerable.Range(0, 10).Select(i => $"redis {i}"));

        (int first, _, string stderr) = await Run(Settings(prompts, Path.Combine(Dir, "a.jsonl")) with { Cache = redis.Url });
        first.Should().Be(0, stderr);
        Server.RequestCount.Should().Be(10);

        (int second, string stdout, string stderr2) = await Run(Settings(prompts, Path.Combine(Dir, "b.jsonl")) with { Cache = redis.Url });

        second.Should().Be(0, stderr2);
        Server.RequestCount.Should().Be(10, "every answer of the second run comes from Redis");
        stdout.Should().Contain($"cache {redis.Url}").And.Contain("10 answer(s) came from the cache and cost nothing; no request was sent");
        Directory.Exists(Path.Combine(Dir, "cache")).Should().BeFalse("the on-disk cache is not used");
    }

    [Fact]
    public async Task RedisDownAtTheStart_Exits6_SendsAndWritesNothing_UnlessCacheOptional()
    {
        string url = $"redis://:pa55word@127.0.0.1:{RedisServer.FreeLoopbackPort()}";   // nothing listens there
        string prompts = Prompts(["one", "two"]);
        string output = Path.Combine(Dir, "out.jsonl");

        (int code, string stdout, string stderr) = await Run(Settings(prompts, output) with { Cache = url });

        code.Should().Be(6, stderr);
        stderr.Should().Contain("cannot be reached").And.Contain("--cache-optional").And.Contain("--no-cache");
        (stdout + stderr).Should().NotContain("pa55word");
        File.Exists(output).Should().BeFalse();
        Server.RequestCount.Should().Be(0);

        (int optional, string stdout2, string stderr2) = await Run(Settings(prompts, output) with { Cache = url, CacheOptional = true });

        optional.Should().Be(0, stderr2);
        stdout2.Should().Contain("done: 2 record(s) written");
        stderr2.Split('\n').Count(l => l.Contains("answer cache failed")).Should().Be(1);
        (stdout2 + stderr2).Should().NotContain("pa55word");
        Server.RequestCount.Should().Be(2);
    }

    [Fact]
    public async Task RedisKilledMidRun_TheRunGoesOnUncached_LoggedOnce_NoRecordLost_NoPromptPaidTwice()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        Server.AnswerDelay = TimeSpan.FromMilliseconds(20);
        string prompts = Prompts(Enumerable.Range(0, 40).Select(i => $"outage {i}"));
        string output = Path.Combine(Dir, "out.jsonl");
        var stdout = new KillOnLine("10/40 done", redis);
        var stderr = new StringWriter();

        int code = await GenerateCommand.RunAsync(Settings(prompts, output) with { Cache = redis.Url, Concurrency = 2, PlainProgressInterval = TimeSpan.Zero }, stdout, stderr, Env, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(120));

        stdout.Killed.Should().BeTrue();
        redis.IsRunning.Should().BeFalse();
        code.Should().Be(0, stderr.ToString());
        stderr.ToString().Split('\n').Count(l => l.Contains("answer cache failed")).Should().Be(1, stderr.ToString());
        var records = new List<TeacherRecord>();
        await foreach (TeacherRecord r in TeacherRecordFile.ReadAllAsync(output))
        {
            records.Add(r);
        }
        records.Select(r => r.Id).Should().OnlyHaveUniqueItems().And.HaveCount(40);
        records.Should().OnlyContain(r => r.Error == null && r.Response != null);
        Server.RequestCount.Should().Be(40, "each prompt was paid for once: a failed cache read is a miss, a failed cache write loses nothing");
    }

    /// <summary>Standard output that kills Redis (once) when a progress line contains a marker.</summary>
    private sealed class KillOnLine(string marker, RedisServer redis) : StringWriter
    {
        public bool Killed { get; private set; }

        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (!Killed && value?.Contains(marker, StringComparison.Ordinal) == true)
            {
                Killed = true;
                redis.Kill();
            }
        }
    }
}
