using System.Text.Json;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Extensions.AI.Tests.Server;

namespace KnowledgeDistillation.Cli.Tests;

public sealed class GenerateCommandTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-generate-cli-").FullName;
    private FakeOpenAIServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeOpenAIServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private static string? Env(string name) => name == "KD_API_KEY" ? FakeOpenAIServer.ApiKey : null;

    private GenerateCommand.Settings Settings(string prompts, string output) => new()
    {
        Prompts = prompts,
        Output = output,
        Endpoint = _server.Endpoint.ToString(),
        Model = "teacher-1",
        TopLogprobs = 2,
        PriceInput = 1m,
        PriceOutput = 4m,
        CacheDirectory = Path.Combine(_dir, "cache"),
        BaseDelaySeconds = 0.005,
        TimeoutSeconds = 2,
        Plain = true,
    };

    private string Prompts(int count, params string[] extra)
    {
        string path = Path.Combine(_dir, "prompts.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, count).Select(i => JsonSerializer.Serialize(new { id = $"p{i}", prompt = $"cli prompt {i}" })).Concat(extra));
        return path;
    }

    [Fact]
    public async Task Generate_WritesRecords_WithRetries_ThenASecondRunIsServedFromTheCache()
    {
        string prompts = Prompts(8, "{\"id\": \"r\", \"prompt\": \"retry me #429x1\"}");
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        int code = await GenerateCommand.RunAsync(Settings(prompts, Path.Combine(_dir, "a.jsonl")), stdout, stderr, Env, CancellationToken.None);

        code.Should().Be(0, stderr.ToString());
        stdout.ToString().Should().Contain("done: 9 record(s) written (9 from the model, 0 from the cache").And.Contain("requests 10 (retries 1)").And.Contain("9/9 done");
        File.ReadAllLines(Path.Combine(_dir, "a.jsonl")).Should().HaveCount(9).And.OnlyContain(l => l.Contains("\"top_alternatives\""));

        code = await GenerateCommand.RunAsync(Settings(prompts, Path.Combine(_dir, "b.jsonl")), stdout, stderr, Env, CancellationToken.None);
        code.Should().Be(0);
        stdout.ToString().Should().Contain("9 answer(s) came from the cache and cost nothing; no request was sent: this run cost nothing");
        _server.RequestCount.Should().Be(10);
        (stdout.ToString() + stderr).Should().NotContain(FakeOpenAIServer.ApiKey);
    }

    [Fact]
    public async Task Generate_BudgetReached_ExitsWith3_AndSaysWhatIsLeft()
    {
        var stdout = new StringWriter();
        GenerateCommand.Settings settings = Settings(Prompts(20), Path.Combine(_dir, "a.jsonl")) with { MaxOutputTokens = 16, BudgetUsd = 0.0006m, NoCache = true };

        int code = await GenerateCommand.RunAsync(settings, stdout, stdout, Env, CancellationToken.None);

        code.Should().Be(3, stdout.ToString());
        stdout.ToString().Should().Contain("stopped by the budget").And.MatchRegex(@"\d+ prompt\(s\) not started \(budget\)");
        File.ReadAllLines(Path.Combine(_dir, "a.jsonl")).Length.Should().BeInRange(1, 19);
    }

    [Theory]
    [InlineData("endpoint", "ftp://127.0.0.1/v1", "not an absolute http:// or https:// URL")]
    [InlineData("endpoint", "not a url", "not an absolute URL")]
    [InlineData("budget", "-1", "--budget-usd -1 is negative")]
    [InlineData("prompts", "{\"prompt\": }", "line 2")]
    [InlineData("empty", "", "holds no prompts")]
    public async Task BadInput_ExitsWith2_WithAMessage_AndWritesNoOutput(string what, string value, string message)
    {
        string prompts = what switch
        {
            "prompts" => Prompts(1, value),
            "empty" => Prompts(0),
            _ => Prompts(2),
        };
        string output = Path.Combine(_dir, "out.jsonl");
        GenerateCommand.Settings settings = Settings(prompts, output);
        settings = what switch
        {
            "endpoint" => settings with { Endpoint = value },
            "budget" => settings with { BudgetUsd = decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
            _ => settings,
        };
        var stderr = new StringWriter();

        int code = await GenerateCommand.RunAsync(settings, TextWriter.Null, stderr, Env, CancellationToken.None);

        code.Should().Be(2);
        stderr.ToString().Should().Contain(message);
        File.Exists(output).Should().BeFalse();
        _server.RequestCount.Should().Be(0);
    }

    [Fact]
    public async Task Interrupted_Returns130_SaysHowToContinue_AndTheRerunCompletes()
    {
        _server.AnswerDelay = TimeSpan.FromMilliseconds(5);
        string prompts = Prompts(60);
        string output = Path.Combine(_dir, "out.jsonl");
        var stderr = new StringWriter();
        using var cts = new CancellationTokenSource();
        var progress = new CancelAfter("10/60 done", cts);   // Ctrl+C once 10 records are written

        int code = await GenerateCommand.RunAsync(Settings(prompts, output) with { NoCache = true, Concurrency = 2, PlainProgressInterval = TimeSpan.Zero }, progress, stderr, Env, cts.Token);

        code.Should().Be(130, stderr.ToString());
        stderr.ToString().Should().Contain("interrupted").And.Contain("run the same command again");
        int partial = File.ReadAllLines(output).Length;
        partial.Should().BeInRange(10, 59);
        var stdout = new StringWriter();
        (await GenerateCommand.RunAsync(Settings(prompts, output) with { NoCache = true }, stdout, stderr, Env, CancellationToken.None)).Should().Be(0);
        stdout.ToString().Should().Contain($"{partial} already in the output");
        File.ReadAllLines(output).Should().HaveCount(60).And.OnlyHaveUniqueItems();
    }

    /// <summary>Standard output that cancels the run when a progress line contains a marker.</summary>
    private sealed class CancelAfter(string marker, CancellationTokenSource cts) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value?.Contains(marker, StringComparison.Ordinal) == true)
            {
                cts.Cancel();
            }
        }
    }

    [Fact]
    public async Task RemoteEndpoint_WithoutAKey_SaysWhichVariablesToSet()
    {
        var stderr = new StringWriter();
        GenerateCommand.Settings settings = Settings(Prompts(1), Path.Combine(_dir, "out.jsonl")) with { Endpoint = "https://llm.example.invalid/v1" };

        int code = await GenerateCommand.RunAsync(settings, TextWriter.Null, stderr, _ => null, CancellationToken.None);

        code.Should().Be(2);
        stderr.ToString().Should().Contain("KD_API_KEY or OPENAI_API_KEY");
    }
}
