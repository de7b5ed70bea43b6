using System.Text;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Extensions.AI.Generation;
using KnowledgeDistillation.Extensions.AI.Tests.Server;

namespace KnowledgeDistillation.Cli.Tests;

/// <summary>kd generate: locking, redaction, exit codes for failed runs and refused credentials, option ranges, encodings.</summary>
public sealed class GenerateHardeningTests : GenerateCliTestBase
{
    [Fact]
    public async Task TwoRunsOnOneOutput_TheSecondIsRefusedWithExit2_TheFileHoldsEveryRecordOnce()
    {
        Server.AnswerDelay = TimeSpan.FromMilliseconds(40);
        string prompts = Prompts(Enumerable.Range(0, 30).Select(i => $"lock {i}"));
        string output = Path.Combine(Dir, "out.jsonl");
        var firstWrote = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new SignalOnLine("1/30 done", firstWrote);

        Task<int> first = GenerateCommand.RunAsync(Settings(prompts, output) with { NoCache = true, Concurrency = 1, PlainProgressInterval = TimeSpan.Zero }, progress, TextWriter.Null, Env, CancellationToken.None);
        await firstWrote.Task.WaitAsync(TimeSpan.FromSeconds(30));
        (int code, _, string stderr) = await Run(Settings(prompts, output) with { NoCache = true });

        code.Should().Be(2, stderr);
        stderr.Should().Contain("is being written by another run").And.Contain("did not change it");
        (await first.WaitAsync(TimeSpan.FromSeconds(60))).Should().Be(0);
        string[] lines = await File.ReadAllLinesAsync(output);
        lines.Should().HaveCount(30).And.OnlyHaveUniqueItems();
        lines.Should().OnlyContain(l => l.StartsWith("{\"id\":\"p", StringComparison.Ordinal) && l.EndsWith('}'));
        Server.RequestCount.Should().Be(30, "the refused run sent nothing");
    }

    [Fact]
    public async Task ApiKeyEchoedBy401_IsInNeitherStdoutStderrNorTheOutput_AndTheRunExits5NamingTheStatus()
    {
        // "#401" makes the server answer 401 with the whole Authorization header (the configured key) in its body.
        string prompts = Prompts(["fine one", "echo me #401", "fine two"]);
        string output = Path.Combine(Dir, "out.jsonl");

        (int code, string stdout, string stderr) = await Run(Settings(prompts, output) with { NoCache = true, Concurrency = 1 });

        code.Should().Be(5, stderr);
        stderr.Should().Contain("HTTP 401").And.Contain("refused the credentials").And.Contain("KD_API_KEY");
        string everything = stdout + stderr + await File.ReadAllTextAsync(output);
        everything.Should().NotContain(FakeOpenAIServer.ApiKey).And.NotContain("sk-test");
        (await File.ReadAllLinesAsync(output)).Should().HaveCount(1, "the answer before the 401 is kept; nothing is written for the refused prompt")
            .And.OnlyContain(l => l.Contains("\"id\":\"p0\""));
    }

    [Fact]
    public async Task WrongKey_ExitsWith5_WritesNothing_TheServersEchoOfTheKeyIsRedacted_AndARerunWithTheRightKeyAnswersEverything()
    {
        string prompts = Prompts(Enumerable.Range(0, 12).Select(i => $"key {i}"));
        string output = Path.Combine(Dir, "out.jsonl");
        const string wrongKey = "sk-wrong-SECRET-91b2";

        (int code, string stdout, string stderr) = await Run(Settings(prompts, output) with { NoCache = true }, name => name == "KD_API_KEY" ? wrongKey : null);

        code.Should().Be(5, stderr);
        stderr.Should().Contain("HTTP 401 (Unauthorized)");
        (stdout + stderr).Should().NotContain(wrongKey).And.Contain("[redacted]");
        (await File.ReadAllTextAsync(output)).Should().BeEmpty();
        Server.RequestCount.Should().BeLessThanOrEqualTo(4, "the first 401 stops the run: only requests already in flight were sent");

        (int again, string stdout2, string stderr2) = await Run(Settings(prompts, output) with { NoCache = true });
        again.Should().Be(0, stderr2);
        stdout2.Should().Contain("done: 12 record(s) written").And.Contain("0 already in the output");
    }

    [Theory]
    [InlineData("refused")]
    [InlineData("#html")]
    [InlineData("#502")]
    [InlineData("#malformed")]
    [InlineData("#incomplete")]
    [InlineData("#hang")]
    public async Task EveryRequestFailing_ExitsWith4_AndSaysWhy(string failure)
    {
        Server.HangFor = TimeSpan.FromSeconds(5);
        string prompts = Prompts(Enumerable.Range(0, 3).Select(i => failure == "refused" ? $"prompt {i}" : $"prompt {i} {failure}"));
        string output = Path.Combine(Dir, "out.jsonl");
        GenerateCommand.Settings settings = Settings(prompts, output) with { NoCache = true, MaxAttempts = 2, TimeoutSeconds = failure == "#hang" ? 0.5 : 10 };
        if (failure == "refused")
        {
            settings = settings with { Endpoint = $"http://127.0.0.1:{RedisServer.FreeLoopbackPort()}/v1" };   // nothing listens there
        }

        (int code, string stdout, string stderr) = await Run(settings);

        code.Should().Be(4, stdout + stderr);
        stderr.Should().Contain("no prompt got an answer: 3 of 3 tried failed").And.Contain("Last failure:");
        string expectedKind = failure switch
        {
            "refused" => "connection 3",
            "#502" => "http_502 3",
            "#hang" => "timeout 3",
            _ => "malformed_response 3",
        };
        stderr.Should().Contain(expectedKind);
        stdout.Should().Contain("failed (too many failures)");
        (await File.ReadAllTextAsync(output)).Should().BeEmpty("a failed request is never recorded as the prompt's answer");
    }

    [Fact]
    public async Task FailureRate_AboveMaxFailureRate_Exits4_WithinIt_Exits0()
    {
        string prompts = Prompts(["a #400", "b #400", "c", "d"]);

        (int over, _, string stderr) = await Run(Settings(prompts, Path.Combine(Dir, "a.jsonl")) with { NoCache = true, MaxFailureRate = 0.25, Concurrency = 1 });
        over.Should().Be(4);
        stderr.Should().Contain("--max-failure-rate 0.25").And.Contain("http_400 2");

        (int within, _, string stderr2) = await Run(Settings(prompts, Path.Combine(Dir, "b.jsonl")) with { NoCache = true, MaxFailureRate = 0.5 });
        within.Should().Be(0, stderr2);
    }

    [Fact]
    public async Task RetryErrors_AnswersEarlierErrorRecords_OnlyWhenAsked()
    {
        string prompts = Prompts(["flaky #400x1", "fine"]);
        string output = Path.Combine(Dir, "out.jsonl");
        (await Run(Settings(prompts, output) with { NoCache = true })).Code.Should().Be(0);

        (int plain, string stdout, _) = await Run(Settings(prompts, output) with { NoCache = true });
        plain.Should().Be(0);
        stdout.Should().Contain("2 already in the output");

        (int retried, string stdout2, string stderr2) = await Run(Settings(prompts, output) with { NoCache = true, RetryErrors = true });
        retried.Should().Be(0, stderr2);
        stdout2.Should().Contain("1 error record(s) tried again");
        var latest = new List<TeacherRecord>();
        await foreach (TeacherRecord r in TeacherRecordFile.ReadAsync(output))
        {
            latest.Add(r);
        }
        latest.Should().HaveCount(2).And.OnlyContain(r => r.Error == null);
    }

    [Theory]
    [InlineData("concurrency", "0", "--concurrency 0 is out of range", "1 to 1024")]
    [InlineData("concurrency", "5000", "--concurrency 5000 is out of range", "1 to 1024")]
    [InlineData("top-logprobs", "21", "--top-logprobs 21 is out of range", "0 to 20")]
    [InlineData("top-logprobs", "-1", "--top-logprobs -1 is out of range", "0 to 20")]
    [InlineData("max-output-tokens", "0", "--max-output-tokens 0 is out of range", "1 to 1000000")]
    [InlineData("temperature", "-0.5", "--temperature -0.5 is out of range", "0 to 2")]
    [InlineData("temperature", "NaN", "--temperature NaN is out of range", "0 to 2")]
    [InlineData("budget-tokens", "-3", "--budget-tokens -3 is negative", "0 or more")]
    [InlineData("price-input", "-1", "--price-input -1 is negative", "0 or more")]
    [InlineData("price-output", "-2", "--price-output -2 is negative", "0 or more")]
    [InlineData("max-attempts", "0", "--max-attempts 0 is out of range", "1 (no retries) to 100")]
    [InlineData("max-attempts", "101", "--max-attempts 101 is out of range", "1 (no retries) to 100")]
    [InlineData("timeout", "0", "--timeout 0 is out of range", "greater than 0 and at most 86400")]
    [InlineData("timeout", "Infinity", "--timeout Infinity is out of range", "greater than 0 and at most 86400")]
    [InlineData("max-failure-rate", "1.5", "--max-failure-rate 1.5 is out of range", "0 to 1")]
    [InlineData("max-failure-rate", "-0.1", "--max-failure-rate -0.1 is out of range", "0 to 1")]
    [InlineData("shard", "8/8", "--shard: shard 8/8 is out of range", "0 to n-1")]
    public async Task NumericOption_OutOfRange_Exits2_NamingTheOptionTheValueAndTheRange_NoStackTrace_NothingSent(string option, string value, string message, string range)
    {
        string output = Path.Combine(Dir, "out.jsonl");
        GenerateCommand.Settings s = Settings(Prompts(["one"]), output);
        var c = System.Globalization.CultureInfo.InvariantCulture;
        s = option switch
        {
            "concurrency" => s with { Concurrency = int.Parse(value, c) },
            "top-logprobs" => s with { TopLogprobs = int.Parse(value, c) },
            "max-output-tokens" => s with { MaxOutputTokens = int.Parse(value, c) },
            "temperature" => s with { Temperature = float.Parse(value, c) },
            "budget-tokens" => s with { BudgetTokens = long.Parse(value, c) },
            "price-input" => s with { PriceInput = decimal.Parse(value, c) },
            "price-output" => s with { PriceOutput = decimal.Parse(value, c) },
            "max-attempts" => s with { MaxAttempts = int.Parse(value, c) },
            "timeout" => s with { TimeoutSeconds = double.Parse(value, c) },
            "max-failure-rate" => s with { MaxFailureRate = double.Parse(value, c) },
            "shard" => s with { Shard = value },
            _ => throw new ArgumentOutOfRangeException(nameof(option)),
        };

        (int code, _, string stderr) = await Run(s);

        code.Should().Be(2);
        stderr.Should().Contain(message).And.Contain(range).And.NotContain("   at ").And.NotContain("Exception");
        File.Exists(output).Should().BeFalse();
        Server.RequestCount.Should().Be(0);
    }

    [Fact]
    public async Task NumericOption_OutOfRange_ThroughTheCommandLineParser_Exits2_WithoutAStackTrace()
    {
        string prompts = Prompts(["one"]);
        string output = Path.Combine(Dir, "out.jsonl");
        TextWriter originalOut = Console.Out, originalError = Console.Error;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code;
        try
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            var root = new System.CommandLine.RootCommand { GenerateCommand.Create() };
            code = await root.Parse(["generate", "--prompts", prompts, "--out", output, "--endpoint", Server.Endpoint.ToString(), "--model", "m", "--max-failure-rate", "2", "--plain"])
                .InvokeAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }

        code.Should().Be(2, stdout.ToString() + stderr);
        stderr.ToString().Should().Contain("--max-failure-rate 2 is out of range").And.NotContain("   at ");
        File.Exists(output).Should().BeFalse();
    }

    [Fact]
    public async Task NonUtf8PromptBytes_AreRefusedNamingTheLine_OrSkippedWithSkipInvalidAndCounted()
    {
        string prompts = Path.Combine(Dir, "prompts.jsonl");
        await File.WriteAllBytesAsync(prompts, [
            .. Encoding.UTF8.GetBytes("{\"id\": \"a\", \"prompt\": \"fine\"}\n{\"id\": \"b\", \"prompt\": \"caf"), 0xE9, .. Encoding.UTF8.GetBytes("\"}\n"),
        ]);
        string output = Path.Combine(Dir, "out.jsonl");

        (int code, _, string stderr) = await Run(Settings(prompts, output) with { NoCache = true });
        code.Should().Be(2);
        stderr.Should().Contain("line 2").And.Contain("not valid UTF-8").And.Contain("0xE9");
        Server.RequestCount.Should().Be(0);

        (int skipped, string stdout, string stderr2) = await Run(Settings(prompts, output) with { NoCache = true, SkipInvalid = true });
        skipped.Should().Be(0, stderr2);
        stdout.Should().Contain("1 invalid prompts line(s) skipped").And.Contain("skipped prompts line 2: not valid UTF-8");
        Server.Requests.Should().ContainSingle().Which.Body.Should().NotContain("\uFFFD");
    }

    /// <summary>Standard output that completes a signal when a progress line contains a marker.</summary>
    private sealed class SignalOnLine(string marker, TaskCompletionSource signal) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value?.Contains(marker, StringComparison.Ordinal) == true)
            {
                signal.TrySetResult();
            }
        }
    }
}
