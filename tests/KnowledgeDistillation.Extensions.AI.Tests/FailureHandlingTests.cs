using KnowledgeDistillation.Extensions.AI.Generation;
using KnowledgeDistillation.Extensions.AI.Teachers;
using KnowledgeDistillation.Extensions.AI.Tests.Server;

namespace KnowledgeDistillation.Extensions.AI.Tests;

public sealed class FailureHandlingTests : LoopbackTestBase
{
    [Fact]
    public async Task MalformedReplies_HtmlPage_EmptyJson_ProxyErrorPage_AreRetried_AndAnsweredOnce()
    {
        string[] prompts = ["html #htmlx1", "empty #incompletex1", "proxy #502x1"];
        string output = Path.Combine(Dir, "out.jsonl");

        GenerationSummary summary = await Generator(Teacher()).GenerateAsync(PromptsFile(prompts), output);

        summary.Final.Retries.Should().Be(3);
        summary.StopReason.Should().Be(GenerationStopReason.Completed);
        (await ReadRecords(output)).Should().HaveCount(3).And.OnlyContain(r => r.Error == null && r.Response!.StartsWith("The answer to", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MalformedReplies_ThatLast_LeaveNoRecord_SoARerunAfterTheServerIsFixedAnswersThem()
    {
        // Before: an unrecognised reply ({} with status 200) became a permanent error record, and a rerun skipped it.
        string output = Path.Combine(Dir, "out.jsonl");
        ChatClientTeacher teacher = Teacher(o => o.Retry = FastRetry(maxAttempts: 2));

        GenerationSummary broken = await Generator(teacher).GenerateAsync(PromptsFile(["a #incompletex2", "b #htmlx2", "c #502x2", "d"]), output);

        broken.Final.PermanentErrors.Should().Be(0);
        broken.Final.TransientFailures.Should().Be(3);
        (await ReadRecords(output)).Select(r => r.Id).Should().Equal("q003");
        broken.FailureKinds.Should().BeEquivalentTo(new Dictionary<string, int> { ["malformed_response"] = 2, ["http_502"] = 1 });

        GenerationSummary rerun = await Generator(teacher).GenerateAsync(PromptsFile(["a #incompletex2", "b #htmlx2", "c #502x2", "d"]), output);

        rerun.Final.Written.Should().Be(3);
        (await ReadRecords(output)).Should().HaveCount(4).And.OnlyContain(r => r.Error == null);
    }

    [Fact]
    public async Task NoAnswerAtAll_IsTooManyFailures_SayingWhy()
    {
        ChatClientTeacher teacher = Teacher(o => o.Retry = FastRetry(maxAttempts: 2));

        GenerationSummary summary = await Generator(teacher, o => o.MaxFailureRate = 1).GenerateAsync(PromptsFile(["a #html", "b #502"]), Path.Combine(Dir, "out.jsonl"));

        summary.StopReason.Should().Be(GenerationStopReason.TooManyFailures, "no prompt got an answer, whatever the limit");
        summary.Answered.Should().Be(0);
        summary.Failed.Should().Be(2);
        summary.LastFailure.Should().NotBeNullOrEmpty();
        Log.Lines.Should().Contain(l => l.StartsWith("Error:", StringComparison.Ordinal) && l.Contains("2 of 2 prompt(s) got no answer"));
    }

    [Fact]
    public async Task FailureRate_AboveTheLimit_IsTooManyFailures_AndStopsStartingPromptsOnceItCannotBeMet()
    {
        string[] prompts = [.. Enumerable.Range(0, 20).Select(i => i < 12 ? $"bad {i} #400" : $"good {i}")];

        GenerationSummary over = await Generator(Teacher(), o => { o.MaxFailureRate = 0.5; o.MaxConcurrency = 1; }).GenerateAsync(PromptsFile(prompts), Path.Combine(Dir, "a.jsonl"));

        over.StopReason.Should().Be(GenerationStopReason.TooManyFailures);
        over.Final.PermanentErrors.Should().Be(11, "the 11th failure of 20 prompts already exceeds 0.5 × 20, so no further prompt was started");
        over.NotStarted.Should().Be(9);

        GenerationSummary within = await Generator(Teacher(), o => o.MaxFailureRate = 0.6).GenerateAsync(PromptsFile(prompts, "b.jsonl"), Path.Combine(Dir, "b.jsonl.out"));
        within.StopReason.Should().Be(GenerationStopReason.Completed);
        within.FailureRate.Should().Be(0.6);
    }

    [Fact]
    public async Task RetryErrorRecords_AppendsANewRecordThatSupersedesTheError_AndReadersTakeTheLast()
    {
        string file = PromptsFile(["flaky #400x1", "fine"]);
        string output = Path.Combine(Dir, "out.jsonl");
        await Generator(Teacher()).GenerateAsync(file, output);
        (await ReadRecords(output)).Single(r => r.Id == "q000").Error!.Status.Should().Be(400);

        GenerationSummary skipped = await Generator(Teacher()).GenerateAsync(file, output);
        skipped.Final.AlreadyDone.Should().Be(2, "without RetryErrorRecords an error record counts as done");

        GenerationSummary retried = await Generator(Teacher(), o => o.RetryErrorRecords = true).GenerateAsync(file, output);

        retried.RetriedErrorRecords.Should().Be(1);
        retried.Final.AlreadyDone.Should().Be(1);
        retried.Final.Written.Should().Be(1);
        List<TeacherRecord> latest = await ReadRecords(output);
        latest.Should().HaveCount(2).And.OnlyContain(r => r.Error == null);
        List<TeacherRecord> history = [];
        await foreach (TeacherRecord r in TeacherRecordFile.ReadAllAsync(output))
        {
            history.Add(r);
        }
        history.Should().HaveCount(3);   // append-only: the error is still there, superseded by the answer after it
        history.Where(r => r.Id == "q000").Select(r => r.Error is null).Should().Equal(false, true);
        GenerationSummary again = await Generator(Teacher(), o => o.RetryErrorRecords = true).GenerateAsync(file, output);
        again.Final.AlreadyDone.Should().Be(2, "the answer supersedes the error: nothing left to retry");
        Server.AttemptsFor("flaky #400x1").Should().Be(2);
    }

    [Fact]
    public async Task CacheThatFailsMidRun_IsLoggedOnce_TheRunGoesOnUncached_NoRecordLost_NoPromptPaidTwice()
    {
        var cache = new FailingCache(failAfter: 6);
        var options = new ChatClientTeacherOptions { Model = "teacher-1", Retry = FastRetry() };
        var teacher = new ChatClientTeacher(Client(), options, cache, Log);
        string output = Path.Combine(Dir, "out.jsonl");

        GenerationSummary summary = await Generator(teacher, o => o.MaxConcurrency = 2).GenerateAsync(PromptsFile(Enumerable.Range(0, 30).Select(i => $"cached {i}")), output);

        summary.StopReason.Should().Be(GenerationStopReason.Completed);
        (await ReadRecords(output)).Select(r => r.Id).Should().OnlyHaveUniqueItems().And.HaveCount(30);
        Server.RequestCount.Should().Be(30);
        Log.Lines.Count(l => l.Contains("answer cache failed")).Should().Be(1);
        cache.Calls.Should().BeLessThan(20, "after the failure the cache is skipped, not tried for every request");
    }

    [Fact]
    public async Task CacheDownAtTheStart_FailsTheRun_UnlessItIsOptional()
    {
        var options = new ChatClientTeacherOptions { Model = "teacher-1", Retry = FastRetry() };
        string file = PromptsFile(["one", "two"]);
        string output = Path.Combine(Dir, "out.jsonl");

        Func<Task> required = () => Generator(new ChatClientTeacher(Client(), options, new FailingCache(failAfter: 0), Log)).GenerateAsync(file, output);
        (await required.Should().ThrowAsync<TeacherCacheUnavailableException>()).WithMessage("*cannot be reached*RequireCache*");
        File.Exists(output).Should().BeFalse();
        Server.RequestCount.Should().Be(0);

        GenerationSummary optional = await Generator(new ChatClientTeacher(Client(), options, new FailingCache(failAfter: 0), Log), o => o.RequireCache = false).GenerateAsync(file, output);
        optional.Final.Written.Should().Be(2);
        Log.Lines.Count(l => l.Contains("answer cache failed")).Should().Be(1);
    }

    [Fact]
    public async Task AnswerIsWrittenToTheOutput_BeforeItIsCached()
    {
        string output = Path.Combine(Dir, "out.jsonl");
        var cache = new FailingCache(failAfter: int.MaxValue) { OnSet = () => File.Exists(output) && new FileInfo(output).Length > 0 };
        var teacher = new ChatClientTeacher(Client(), new ChatClientTeacherOptions { Model = "teacher-1" }, cache, Log);

        await Generator(teacher).GenerateAsync(PromptsFile(["write first"]), output);

        cache.SetsAfterWrite.Should().Be(1);
        cache.SetsBeforeWrite.Should().Be(0);
    }

    /// <summary>An in-memory cache that throws (as a Redis that went away does) after a number of calls.</summary>
    private sealed class FailingCache(int failAfter) : Microsoft.Extensions.Caching.Distributed.IDistributedCache
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> _entries = new();
        private int _calls;

        public int Calls => _calls;

        public int SetsAfterWrite, SetsBeforeWrite;

        public Func<bool>? OnSet { get; init; }

        private void Count()
        {
            if (Interlocked.Increment(ref _calls) > failAfter)
            {
                throw new InvalidOperationException("No connection is active/available to service this operation: GET kd:llm:… (the server went away)");
            }
        }

        public byte[]? Get(string key) => throw new NotSupportedException();

        public Task<byte[]?> GetAsync(string key, CancellationToken token = default)
        {
            Count();
            return Task.FromResult(_entries.TryGetValue(key, out byte[]? value) ? value : null);
        }

        public void Set(string key, byte[] value, Microsoft.Extensions.Caching.Distributed.DistributedCacheEntryOptions options) => throw new NotSupportedException();

        public Task SetAsync(string key, byte[] value, Microsoft.Extensions.Caching.Distributed.DistributedCacheEntryOptions options, CancellationToken token = default)
        {
            Count();
            if (OnSet is { } check)
            {
                if (check())
                {
                    Interlocked.Increment(ref SetsAfterWrite);
                }
                else
                {
                    Interlocked.Increment(ref SetsBeforeWrite);
                }
            }
            _entries[key] = value;
            return Task.CompletedTask;
        }

        public void Refresh(string key) => throw new NotSupportedException();

        public Task RefreshAsync(string key, CancellationToken token = default) => Task.CompletedTask;

        public void Remove(string key) => throw new NotSupportedException();

        public Task RemoveAsync(string key, CancellationToken token = default) => Task.CompletedTask;
    }
}
