using System.Text.Json;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Extensions.AI.Tests.Server;

namespace KnowledgeDistillation.Cli.Tests;

/// <summary>A loopback OpenAI-compatible server, a scratch folder and helpers to run <c>kd generate</c> in-process.</summary>
public abstract class GenerateCliTestBase : IAsyncLifetime
{
    protected string Dir { get; } = Directory.CreateTempSubdirectory("kd-generate-cli-").FullName;

    internal FakeOpenAIServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await FakeOpenAIServer.StartAsync();

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(Dir, recursive: true);
    }

    internal static string? Env(string name) => name == "KD_API_KEY" ? FakeOpenAIServer.ApiKey : null;

    internal GenerateCommand.Settings Settings(string prompts, string output) => new()
    {
        Prompts = prompts,
        Output = output,
        Endpoint = Server.Endpoint.ToString(),
        Model = "teacher-1",
        TopLogprobs = 2,
        PriceInput = 1m,
        PriceOutput = 4m,
        CacheDirectory = Path.Combine(Dir, "cache"),
        BaseDelaySeconds = 0.005,
        TimeoutSeconds = 2,
        Plain = true,
    };

    protected string Prompts(IEnumerable<string> prompts, string name = "prompts.jsonl")
    {
        string path = Path.Combine(Dir, name);
        File.WriteAllLines(path, prompts.Select((p, i) => JsonSerializer.Serialize(new { id = $"p{i}", prompt = p })));
        return path;
    }

    /// <summary>Runs kd generate; returns the exit code with everything it printed.</summary>
    internal static async Task<(int Code, string Stdout, string Stderr)> Run(GenerateCommand.Settings settings, Func<string, string?>? environment = null, CancellationToken cancellationToken = default)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = await GenerateCommand.RunAsync(settings, stdout, stderr, environment ?? Env, cancellationToken).WaitAsync(TimeSpan.FromSeconds(120), cancellationToken);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
