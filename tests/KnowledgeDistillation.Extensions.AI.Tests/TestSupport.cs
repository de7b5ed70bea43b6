using System.Collections.Concurrent;
using System.Text.Json;
using KnowledgeDistillation.Extensions.AI.Caching;
using KnowledgeDistillation.Extensions.AI.Generation;
using KnowledgeDistillation.Extensions.AI.Teachers;
using KnowledgeDistillation.Extensions.AI.Tests.Server;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace KnowledgeDistillation.Extensions.AI.Tests;

/// <summary>A loopback server, a scratch folder and helpers to build teachers and prompt files against them.</summary>
public abstract class LoopbackTestBase : IAsyncLifetime
{
    internal FakeOpenAIServer Server { get; private set; } = null!;

    protected string Dir { get; } = Directory.CreateTempSubdirectory("kd-llm-").FullName;

    protected ListLogger Log { get; } = new();

    public async Task InitializeAsync() => Server = await FakeOpenAIServer.StartAsync();

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(Dir, recursive: true);
    }

    /// <summary>Tiny back-offs, so retry tests take milliseconds; only a hang costs the 2 s attempt timeout.</summary>
    protected static RetryOptions FastRetry(int maxAttempts = 4) => new()
    {
        MaxAttempts = maxAttempts,
        BaseDelay = TimeSpan.FromMilliseconds(5),
        MaxDelay = TimeSpan.FromMilliseconds(500),
        AttemptTimeout = TimeSpan.FromSeconds(2),   // generous: the first request of a process is slow (JIT) on a busy machine
    };

    internal IChatClient Client(string key = FakeOpenAIServer.ApiKey) => OpenAICompatibleChatClient.Create(Server.Endpoint, "teacher-1", key);

    internal ChatClientTeacher Teacher(Action<ChatClientTeacherOptions>? configure = null, string? cacheDir = null, string key = FakeOpenAIServer.ApiKey)
    {
        var options = new ChatClientTeacherOptions { Model = "teacher-1", Retry = FastRetry() };
        options.Secrets.Add(key);
        options.Prices.Add("teacher-1", new ModelPrice(InputPerMillion: 2.5m, OutputPerMillion: 10m));
        configure?.Invoke(options);
        return new ChatClientTeacher(Client(key), options, cacheDir is null ? null : new FileDistributedCache(cacheDir), Log);
    }

    internal TeacherDataGenerator Generator(ChatClientTeacher teacher, Action<GenerationOptions>? configure = null)
    {
        var options = new GenerationOptions { MaxConcurrency = 4 };
        configure?.Invoke(options);
        return new TeacherDataGenerator(teacher, options, Log);
    }

    protected string PromptsFile(IEnumerable<string> prompts, string name = "prompts.jsonl")
    {
        string path = Path.Combine(Dir, name);
        File.WriteAllLines(path, prompts.Select((p, i) => JsonSerializer.Serialize(new { id = $"q{i:000}", prompt = p })));
        return path;
    }

    protected static async Task<List<TeacherRecord>> ReadRecords(string path)
    {
        var records = new List<TeacherRecord>();
        await foreach (TeacherRecord record in TeacherRecordFile.ReadAsync(path))
        {
            records.Add(record);
        }
        return records;
    }

    /// <summary>What must not change between runs: id, answer and log-probabilities (latency and attempts may).</summary>
    protected static string Content(TeacherRecord r) =>
        $"{r.Id}|{r.Response}|{r.FinishReason}|{r.Usage?.InputTokens}|{r.Usage?.OutputTokens}|{r.Error?.Kind}|" +
        string.Join(";", (r.Logprobs ?? []).Select(t => $"{t.Token}:{t.LogProbability:R}:{string.Join(",", t.TopAlternatives.Select(a => $"{a.Token}={a.LogProbability:R}"))}"));
}

/// <summary>Collects log lines (rendered messages and exception texts) to check what is logged.</summary>
public sealed class ListLogger : ILogger
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => Lines.Enqueue($"{logLevel}: {formatter(state, exception)} {exception}");
}
