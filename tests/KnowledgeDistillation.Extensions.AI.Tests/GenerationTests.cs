using KnowledgeDistillation.Extensions.AI.Generation;
using KnowledgeDistillation.Extensions.AI.Teachers;
using KnowledgeDistillation.Extensions.AI.Tests.Server;

namespace KnowledgeDistillation.Extensions.AI.Tests;

public sealed class GenerationTests : LoopbackTestBase
{
    [Fact]
    public async Task Generate_OverHttp_RecordsAnswerLogprobsUsageCostLatencyAndModel()
    {
        string[] prompts = [.. Enumerable.Range(0, 12).Select(i => $"What is {i} squared?")];
        ChatClientTeacher teacher = Teacher(o => { o.TopLogProbabilities = 3; o.SystemPrompt = "Answer briefly."; o.Temperature = 0; });
        string output = Path.Combine(Dir, "teacher.jsonl");
        var reports = new List<GenerationProgress>();

        GenerationSummary summary = await Generator(teacher).GenerateAsync(PromptsFile(prompts), output, new SyncProgress(reports.Add));

        summary.StopReason.Should().Be(GenerationStopReason.Completed);
        summary.Final.Written.Should().Be(12);
        summary.Final.Requests.Should().Be(12);
        Server.RequestCount.Should().Be(12);
        Server.Requests.Should().OnlyContain(r => r.Body.Contains("\"logprobs\":true") && r.Body.Contains("\"top_logprobs\":3") && r.Body.Contains("Answer briefly."));
        List<TeacherRecord> records = await ReadRecords(output);
        records.Select(r => r.Id).Should().BeEquivalentTo(Enumerable.Range(0, 12).Select(i => $"q{i:000}"));
        decimal totalCost = 0;
        foreach (TeacherRecord record in records)
        {
            string prompt = prompts[int.Parse(record.Id[1..], System.Globalization.CultureInfo.InvariantCulture)];
            IReadOnlyList<string> tokens = FakeOpenAIServer.AnswerTokens(prompt);
            record.Response.Should().Be(string.Concat(tokens));
            record.Messages.Select(m => m.Role).Should().Equal("system", "user");
            record.Model.Should().Be("teacher-1");
            record.FinishReason.Should().Be("stop");
            record.Logprobs.Should().HaveCount(tokens.Count);
            record.Logprobs![1].Token.Should().Be(tokens[1]);
            record.Logprobs[1].LogProbability.Should().BeApproximately(FakeOpenAIServer.TokenLogprob(tokens[1]), 1e-6);
            record.Logprobs[1].TopAlternatives.Should().HaveCount(3);
            record.Logprobs[1].TopAlternatives[2].LogProbability.Should().BeApproximately(record.Logprobs[1].LogProbability - 2, 1e-5);
            record.Usage!.OutputTokens.Should().Be(tokens.Count);
            record.Cost.Should().Be((record.Usage.InputTokens!.Value * 2.5m + record.Usage.OutputTokens!.Value * 10m) / 1_000_000m);
            record.Currency.Should().Be("USD");
            record.LatencyMs.Should().BePositive();
            record.Attempts.Should().Be(1);
            record.Cached.Should().BeFalse();
            totalCost += record.Cost!.Value;
        }
        summary.Final.Cost.Should().Be(totalCost);
        summary.Final.OutputTokens.Should().Be(records.Sum(r => r.Usage!.OutputTokens!.Value));
        reports.Should().HaveCount(12);
        reports[^1].Finished.Should().Be(12);
        reports[^1].EstimatedRemaining.Should().Be(TimeSpan.Zero);
    }

    [Fact]
    public async Task Output_KeepsTextAsUtf8_AndLogprobsInTheProvidersShortestForm()
    {
        string output = Path.Combine(Dir, "out.jsonl");
        await Generator(Teacher(o => o.TopLogProbabilities = 1)).GenerateAsync(PromptsFile(["Qu'est-ce qu'un café ? 東京"]), output);

        string line = (await File.ReadAllLinesAsync(output)).Single();
        line.Should().Contain("Qu'est-ce qu'un café ? 東京").And.NotContain("\\u");
        TeacherRecord record = (await ReadRecords(output)).Single();
        string token = record.Logprobs![0].Token;
        line.Should().Contain($"\"log_probability\":{((float)FakeOpenAIServer.TokenLogprob(token)).ToString(System.Globalization.CultureInfo.InvariantCulture)},");
    }

    [Fact]
    public async Task TransientFailures_429_500_Hang_Drop_Malformed_AreRetried_AndRecordedOnce()
    {
        string[] prompts = ["alpha #429x2", "beta #500x1", "gamma #hangx1", "delta #dropx1", "epsilon #malformedx1", "zeta"];
        ChatClientTeacher teacher = Teacher();

        GenerationSummary summary = await Generator(teacher).GenerateAsync(PromptsFile(prompts), Path.Combine(Dir, "out.jsonl"));

        List<TeacherRecord> records = await ReadRecords(Path.Combine(Dir, "out.jsonl"));
        records.Should().HaveCount(6).And.OnlyContain(r => r.Error == null && r.Response!.StartsWith("The answer to", StringComparison.Ordinal));
        records.ToDictionary(r => r.Id, r => r.Attempts).Should().BeEquivalentTo(new Dictionary<string, int>
        {
            ["q000"] = 3, ["q001"] = 2, ["q002"] = 2, ["q003"] = 2, ["q004"] = 2, ["q005"] = 1,
        });
        prompts.Select(Server.AttemptsFor).Should().Equal(3, 2, 2, 2, 2, 1);
        summary.Final.Retries.Should().Be(6);
        summary.Final.Requests.Should().Be(12);
        summary.Final.TransientFailures.Should().Be(0);
        Log.Lines.Should().Contain(l => l.Contains("timeout")).And.Contain(l => l.Contains("connection")).And.Contain(l => l.Contains("HTTP 500")).And.Contain(l => l.Contains("Retry-After")).And.Contain(l => l.Contains("malformed_response"));
    }

    [Fact]
    public async Task RetryAfter_FromTheServer_ReplacesTheTinyBackOff()
    {
        Server.RetryAfterMs = 300;
        ChatClientTeacher teacher = Teacher();   // base delay 5 ms: without the header the retry would come almost at once

        TeacherResponse answer = await teacher.GenerateAsync(TeacherPrompt.FromText("x", "slow down #429x1"));

        answer.Attempts.Should().Be(2);
        IReadOnlyList<ServerRequest> requests = Server.Requests;
        (requests[1].At - requests[0].At).Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(280));
    }

    [Fact]
    public async Task PermanentError_400_IsRecordedAgainstThePrompt_NotRetried_NotRetriedOnRerun()
    {
        string[] prompts = ["too long #400", "fine", "also fine"];
        string output = Path.Combine(Dir, "out.jsonl");
        string file = PromptsFile(prompts);

        GenerationSummary summary = await Generator(Teacher()).GenerateAsync(file, output);

        summary.Final.PermanentErrors.Should().Be(1);
        summary.Final.Retries.Should().Be(0);
        summary.StopReason.Should().Be(GenerationStopReason.Completed, "1 failure of 3 is within the default limit of 0.5");
        prompts.Select(Server.AttemptsFor).Should().Equal(1, 1, 1);
        List<TeacherRecord> records = await ReadRecords(output);
        records.Should().HaveCount(3);
        TeacherRecord tooLong = records.Single(r => r.Id == "q000");
        tooLong.Response.Should().BeNull();
        tooLong.Error!.Status.Should().Be(400);
        tooLong.Error.Kind.Should().Be("http_400");
        tooLong.Error.Message.Should().Contain("maximum context length");

        GenerationSummary rerun = await Generator(Teacher()).GenerateAsync(file, output);
        rerun.Final.AlreadyDone.Should().Be(3);
        rerun.Final.Requests.Should().Be(0);
        Server.RequestCount.Should().Be(3);
    }

    [Fact]
    public async Task WrongKey_401_StopsTheRunAtOnce_WritesNoRecord_AndARerunWithTheRightKeyAnswersEverything()
    {
        Server.AnswerDelay = TimeSpan.FromMilliseconds(20);
        string file = PromptsFile(Enumerable.Range(0, 30).Select(i => $"key prompt {i}"));
        string output = Path.Combine(Dir, "out.jsonl");

        Func<Task> refused = () => Generator(Teacher(key: "sk-wrong-SECRET-91b2")).GenerateAsync(file, output);

        TeacherRequestException error = (await refused.Should().ThrowAsync<TeacherRequestException>()).Which;
        error.IsAuthenticationFailure.Should().BeTrue();
        error.StatusCode.Should().Be(401);
        error.Message.Should().Contain("HTTP 401").And.Contain("refused the credentials").And.NotContain("sk-wrong");
        Server.RequestCount.Should().BeLessThanOrEqualTo(4, "the first 401 stops the run: only the requests already in flight (concurrency 4) were sent");
        (await File.ReadAllTextAsync(output)).Should().BeEmpty("a refused request is not the prompt's answer");

        GenerationSummary fixedKey = await Generator(Teacher()).GenerateAsync(file, output);

        fixedKey.StopReason.Should().Be(GenerationStopReason.Completed);
        fixedKey.Final.Written.Should().Be(30);
        (await ReadRecords(output)).Should().HaveCount(30).And.OnlyContain(r => r.Error == null && r.Response != null);
    }

    [Theory]
    [InlineData("#401", 401)]
    [InlineData("#403", 403)]
    public async Task Refused_401Or403_InTheMiddleOfARun_StopsIt_NamingTheStatus_AndRecordsNothingForIt(string directive, int status)
    {
        Server.AnswerDelay = TimeSpan.FromMilliseconds(20);
        string[] prompts = [.. Enumerable.Range(0, 40).Select(i => i == 8 ? $"refused {directive}" : $"fine {i}")];
        string output = Path.Combine(Dir, "out.jsonl");

        Func<Task> run = () => Generator(Teacher(), o => o.MaxConcurrency = 2).GenerateAsync(PromptsFile(prompts), output);

        TeacherRequestException error = (await run.Should().ThrowAsync<TeacherRequestException>()).Which;
        error.StatusCode.Should().Be(status);
        error.Message.Should().Contain($"HTTP {status}").And.NotContain(FakeOpenAIServer.ApiKey);
        List<TeacherRecord> records = await ReadRecords(output);
        records.Should().NotContain(r => r.Id == "q008");
        records.Should().OnlyContain(r => r.Error == null);
        Server.RequestCount.Should().BeLessThan(40, "the run stopped at once instead of answering the rest");
    }

    [Fact]
    public async Task TransientErrors_BeyondTheAttempts_LeaveNoRecord_AndARerunCompletesThePrompt()
    {
        string output = Path.Combine(Dir, "out.jsonl");
        string file = PromptsFile(["flaky #500x4", "steady"]);
        ChatClientTeacher teacher = Teacher(o => o.Retry = FastRetry(maxAttempts: 3));

        GenerationSummary first = await Generator(teacher).GenerateAsync(file, output);

        first.Final.TransientFailures.Should().Be(1);
        Server.AttemptsFor("flaky #500x4").Should().Be(3);
        (await ReadRecords(output)).Select(r => r.Id).Should().Equal("q001");

        GenerationSummary second = await Generator(teacher).GenerateAsync(file, output);
        second.Final.Written.Should().Be(1);
        second.Final.AlreadyDone.Should().Be(1);
        Server.AttemptsFor("flaky #500x4").Should().Be(5);   // the 4th fails, the 5th answers
        (await ReadRecords(output)).Select(r => r.Id).Should().BeEquivalentTo(["q000", "q001"]);
    }

    [Fact]
    public async Task Cache_SecondRunOfTheSamePrompts_MakesNoRequest_CostsNothing_AndSaysSo()
    {
        string cache = Path.Combine(Dir, "cache");
        string file = PromptsFile(Enumerable.Range(0, 20).Select(i => $"cache me {i}"));
        string first = Path.Combine(Dir, "first.jsonl"), second = Path.Combine(Dir, "second.jsonl");

        GenerationSummary paid = await Generator(Teacher(o => o.TopLogProbabilities = 2, cache)).GenerateAsync(file, first);
        Server.RequestCount.Should().Be(20);
        GenerationSummary free = await Generator(Teacher(o => o.TopLogProbabilities = 2, cache)).GenerateAsync(file, second);

        Server.RequestCount.Should().Be(20, "every answer of the second run comes from the cache");
        free.Final.CacheHits.Should().Be(20);
        free.Final.Requests.Should().Be(0);
        free.Final.Cost.Should().Be(0);
        paid.Final.Cost.Should().BePositive();
        Log.Lines.Should().Contain(l => l.Contains("20 from cache") && l.Contains("0 request(s)"));
        List<TeacherRecord> a = await ReadRecords(first), b = await ReadRecords(second);
        b.Should().OnlyContain(r => r.Cached && r.Attempts == 0);
        b.OrderBy(r => r.Id).Select(Content).Should().Equal(a.OrderBy(r => r.Id).Select(Content));

        // The key covers the options: a different temperature or top-k is a different request.
        await Generator(Teacher(o => { o.TopLogProbabilities = 2; o.Temperature = 0.5f; }, cache)).GenerateAsync(file, Path.Combine(Dir, "third.jsonl"));
        Server.RequestCount.Should().Be(40);
    }

    [Fact]
    public async Task Resume_CancelledAfter37Of100_RerunGivesExactly100DistinctRecords_SameContentAsAnUninterruptedRun()
    {
        Server.AnswerDelay = TimeSpan.FromMilliseconds(3);
        string file = PromptsFile(Enumerable.Range(0, 100).Select(i => $"resume prompt {i}"));
        string whole = Path.Combine(Dir, "whole.jsonl"), resumed = Path.Combine(Dir, "resumed.jsonl");
        await Generator(Teacher(o => o.TopLogProbabilities = 2)).GenerateAsync(file, whole);
        int before = Server.RequestCount;

        using var cts = new CancellationTokenSource();
        Func<Task> interrupted = () => Generator(Teacher(o => o.TopLogProbabilities = 2)).GenerateAsync(file, resumed,
            new SyncProgress(p => { if (p.Written >= 37) { cts.Cancel(); } }), cts.Token);
        await interrupted.Should().ThrowAsync<OperationCanceledException>();
        int afterCancel = (await ReadRecords(resumed)).Count;
        afterCancel.Should().BeInRange(37, 99);

        GenerationSummary rest = await Generator(Teacher(o => o.TopLogProbabilities = 2)).GenerateAsync(file, resumed);

        rest.Final.AlreadyDone.Should().Be(afterCancel);
        rest.Final.Written.Should().Be(100 - afterCancel);
        List<TeacherRecord> records = await ReadRecords(resumed);
        records.Should().HaveCount(100);
        records.Select(r => r.Id).Distinct().Should().HaveCount(100);
        records.OrderBy(r => r.Id).Select(Content).Should().Equal((await ReadRecords(whole)).OrderBy(r => r.Id).Select(Content));
        // Requests of the interrupted run that were cancelled in flight are the only ones made twice.
        (Server.RequestCount - before).Should().BeInRange(100, 100 + 4);
    }

    [Fact]
    public async Task TornLastLine_IsDetectedAndRepaired_ThatPromptIsGeneratedAgain()
    {
        string file = PromptsFile(["one", "two", "three"]);
        string output = Path.Combine(Dir, "out.jsonl");
        await Generator(Teacher()).GenerateAsync(PromptsFile(["one", "two"], "first.jsonl"), output);
        string intact = await File.ReadAllTextAsync(output);
        const string torn = "{\"id\":\"q002\",\"messages\":[{\"role\":\"user\",\"cont";   // a crash in mid-write
        await File.AppendAllTextAsync(output, torn);

        GenerationSummary summary = await Generator(Teacher()).GenerateAsync(file, output);

        summary.RepairedBytes.Should().Be(torn.Length);
        summary.Final.AlreadyDone.Should().Be(2);
        summary.Final.Written.Should().Be(1);
        string text = await File.ReadAllTextAsync(output);
        text.Should().StartWith(intact).And.EndWith("\n");
        List<string> ids = (await ReadRecords(output)).Select(r => r.Id).ToList();
        ids.Should().HaveCount(3).And.OnlyHaveUniqueItems();
        ids[2].Should().Be("q002", "the repaired prompt is appended after the intact records");
        Log.Lines.Should().Contain(l => l.Contains("torn line"));
    }

    [Fact]
    public async Task DamagedLineInTheMiddle_IsNotSilentlyDropped_TheFileIsLeftAsItWas()
    {
        string output = Path.Combine(Dir, "out.jsonl");
        await File.WriteAllTextAsync(output, "{\"id\":\"q000\",\"response\":\"x\"}\nGARBAGE\n{\"id\":\"q001\",\"response\":\"y\"}\n");
        string before = await File.ReadAllTextAsync(output);

        Func<Task> run = () => Generator(Teacher()).GenerateAsync(PromptsFile(["a", "b", "c"]), output);

        (await run.Should().ThrowAsync<InvalidDataException>()).WithMessage("*line 2*damaged*");
        (await File.ReadAllTextAsync(output)).Should().Be(before);
        Server.RequestCount.Should().Be(0);
    }

    [Fact]
    public async Task CurrencyBudget_StopsBeforeExceeding_ReportsWhatWasDone_AndARerunWithMoreBudgetFinishes()
    {
        string file = PromptsFile(Enumerable.Range(0, 30).Select(i => $"budget prompt {i}"));
        string output = Path.Combine(Dir, "out.jsonl");
        ChatClientTeacher teacher = Teacher(o => o.MaxOutputTokens = 16);
        (long tokens, decimal? bound) = teacher.GetUpperBound(TeacherPrompt.FromText("b", "budget prompt 10"));
        decimal budget = bound!.Value * 10.5m;   // room for about 10 worst cases

        GenerationSummary summary = await Generator(teacher, o => { o.MaxCost = budget; o.MaxConcurrency = 3; }).GenerateAsync(file, output);

        summary.StopReason.Should().Be(GenerationStopReason.BudgetReached);
        summary.Final.Cost.Should().BeLessThanOrEqualTo(budget).And.BePositive();
        summary.Final.Written.Should().BeInRange(10, 29);
        (summary.Final.Written + summary.NotStarted).Should().Be(30);
        Server.RequestCount.Should().Be(summary.Final.Written);
        (await ReadRecords(output)).Sum(r => r.Cost!.Value).Should().Be(summary.Final.Cost);
        tokens.Should().BeGreaterThan(16);

        GenerationSummary rest = await Generator(teacher, o => o.MaxCost = 1m).GenerateAsync(file, output);
        rest.StopReason.Should().Be(GenerationStopReason.Completed);
        (await ReadRecords(output)).Select(r => r.Id).Distinct().Should().HaveCount(30);
    }

    [Fact]
    public async Task TokenBudget_StopsBeforeExceeding()
    {
        string file = PromptsFile(Enumerable.Range(0, 20).Select(i => $"token prompt {i}"));
        ChatClientTeacher teacher = Teacher(o => o.MaxOutputTokens = 5);

        GenerationSummary summary = await Generator(teacher, o => o.MaxTotalTokens = 150).GenerateAsync(file, Path.Combine(Dir, "out.jsonl"));

        summary.StopReason.Should().Be(GenerationStopReason.BudgetReached);
        (summary.Final.InputTokens + summary.Final.OutputTokens).Should().BeLessThanOrEqualTo(150).And.BePositive();
        summary.NotStarted.Should().BePositive();
        (await ReadRecords(Path.Combine(Dir, "out.jsonl"))).Should().OnlyContain(r => r.FinishReason == "length" && r.Usage!.OutputTokens == 5);
    }

    [Fact]
    public async Task Credentials_AreSentToTheServer_ButNeverLoggedWrittenOrPutInExceptions_EvenWhenTheServerEchoesThem()
    {
        string output = Path.Combine(Dir, "out.jsonl");
        await Generator(Teacher()).GenerateAsync(PromptsFile(["ok", "retry #500x1"]), output);
        Server.Requests.Should().OnlyContain(r => r.Authorization == $"Bearer {FakeOpenAIServer.ApiKey}");

        // The server echoes the rejected key in its 401 body ("Incorrect API key provided: sk-wrong-…").
        string wrongKey = "sk-wrong-SECRET-91b2";
        Func<Task> denied = () => Teacher(key: wrongKey).GenerateAsync(TeacherPrompt.FromText("d", "hello"));
        TeacherRequestException error = (await denied.Should().ThrowAsync<TeacherRequestException>()).Which;
        error.StatusCode.Should().Be(401);
        error.IsTransient.Should().BeFalse();
        error.Message.Should().Contain("Incorrect API key provided: [redacted]");

        // #401 echoes the whole Authorization header: "Bearer sk-test-…" is masked even without a configured secret.
        ChatClientTeacher unconfigured = new(Client(), new ChatClientTeacherOptions { Model = "teacher-1", Retry = FastRetry() }, null, Log);
        Func<Task> echoed = () => Generator(unconfigured).GenerateAsync(PromptsFile(["echo #401"], "echo.jsonl"), Path.Combine(Dir, "echo.jsonl.out"));
        TeacherRequestException echo = (await echoed.Should().ThrowAsync<TeacherRequestException>()).Which;

        string everything = string.Join("\n", Log.Lines) + await File.ReadAllTextAsync(output) + await File.ReadAllTextAsync(Path.Combine(Dir, "echo.jsonl.out"))
            + error + error.InnerException + echo + echo.InnerException;
        everything.Should().NotContain(FakeOpenAIServer.ApiKey).And.NotContain(wrongKey).And.NotContain("sk-");
        everything.Should().Contain("Bearer [redacted]");
    }
}
