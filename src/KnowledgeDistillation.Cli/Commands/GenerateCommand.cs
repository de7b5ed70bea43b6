using System.CommandLine;
using System.Globalization;
using KnowledgeDistillation.Extensions.AI.Caching;
using KnowledgeDistillation.Extensions.AI.Generation;
using KnowledgeDistillation.Extensions.AI.Teachers;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace KnowledgeDistillation.Cli.Commands;

/// <summary>
/// <c>kd generate</c>: answers a prompts file with an LLM teacher behind an OpenAI-compatible endpoint and writes one
/// JSONL record per prompt (text, top-k log-probabilities, usage, cost), with a cache, retries, a budget and resumption.
/// </summary>
internal static class GenerateCommand
{
    /// <summary>Environment variables read for the API key, in order.</summary>
    internal static readonly string[] ApiKeyVariables = ["KD_API_KEY", "OPENAI_API_KEY"];

    internal sealed record Settings
    {
        public required string Prompts { get; init; }
        public required string Output { get; init; }
        public required string Endpoint { get; init; }
        public required string Model { get; init; }
        public int? TopLogprobs { get; init; }
        public decimal? BudgetUsd { get; init; }
        public long? BudgetTokens { get; init; }
        public int Concurrency { get; init; } = 4;
        public int? MaxOutputTokens { get; init; } = 1024;
        public string? System { get; init; }
        public float? Temperature { get; init; }
        public decimal? PriceInput { get; init; }
        public decimal? PriceOutput { get; init; }
        public string CacheDirectory { get; init; } = Path.Combine(".kd-cache", "llm");
        public bool NoCache { get; init; }
        public bool SkipInvalid { get; init; }
        public int MaxAttempts { get; init; } = 6;
        public double TimeoutSeconds { get; init; } = 120;
        public double BaseDelaySeconds { get; init; } = 1;
        public bool Plain { get; init; }
        public TimeSpan PlainProgressInterval { get; init; } = TimeSpan.FromSeconds(2);
    }

    public static Command Create()
    {
        var prompts = new Option<string>("--prompts") { Description = "Prompts JSONL: one {\"id\": …, \"prompt\": \"…\"} or {\"messages\": […]} per line.", Required = true };
        var output = new Option<string>("--out") { Description = "Output JSONL (appended to; a rerun skips prompts already there).", Required = true };
        var endpoint = new Option<string>("--endpoint") { Description = "OpenAI-compatible API base, e.g. http://127.0.0.1:8000/v1. The key comes from KD_API_KEY or OPENAI_API_KEY.", Required = true };
        var model = new Option<string>("--model") { Description = "Model name.", Required = true };
        var topLogprobs = new Option<int?>("--top-logprobs") { Description = "Record the top K (0-20) log-probabilities per generated token." };
        var budgetUsd = new Option<decimal?>("--budget-usd") { Description = "Stop before the run could spend more than this (needs --price-input/--price-output)." };
        var budgetTokens = new Option<long?>("--budget-tokens") { Description = "Stop before the run could use more than this many tokens (input + output)." };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight at once.", DefaultValueFactory = _ => 4 };
        var maxOutput = new Option<int?>("--max-output-tokens") { Description = "Most tokens per answer (bounds the cost of a request for the budget).", DefaultValueFactory = _ => 1024 };
        var system = new Option<string?>("--system") { Description = "System prompt put before every prompt." };
        var temperature = new Option<float?>("--temperature") { Description = "Sampling temperature (provider default when unset)." };
        var priceInput = new Option<decimal?>("--price-input") { Description = "USD per million input tokens for --model (for costs and --budget-usd)." };
        var priceOutput = new Option<decimal?>("--price-output") { Description = "USD per million output tokens for --model." };
        var cacheDir = new Option<string>("--cache-dir") { Description = "On-disk cache folder (answers are reused across runs).", DefaultValueFactory = _ => Path.Combine(".kd-cache", "llm") };
        var noCache = new Option<bool>("--no-cache") { Description = "Neither read nor write the cache." };
        var skipInvalid = new Option<bool>("--skip-invalid") { Description = "Skip invalid prompt lines (reported) instead of stopping." };
        var maxAttempts = new Option<int>("--max-attempts") { Description = "Requests per prompt, retries included.", DefaultValueFactory = _ => 6 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds before a request is abandoned and retried.", DefaultValueFactory = _ => 120 };
        var plain = new Option<bool>("--plain") { Description = "Plain progress lines instead of a progress bar." };
        var command = new Command("generate", "Answer a prompts file with an LLM teacher (OpenAI-compatible endpoint): one JSONL record per prompt with text, top-k log-probabilities, usage and cost; cached, retried, budgeted and resumable.")
        {
            prompts, output, endpoint, model, topLogprobs, budgetUsd, budgetTokens, concurrency, maxOutput, system, temperature, priceInput, priceOutput, cacheDir, noCache, skipInvalid, maxAttempts, timeout, plain,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new Settings
            {
                Prompts = parse.GetValue(prompts)!,
                Output = parse.GetValue(output)!,
                Endpoint = parse.GetValue(endpoint)!,
                Model = parse.GetValue(model)!,
                TopLogprobs = parse.GetValue(topLogprobs),
                BudgetUsd = parse.GetValue(budgetUsd),
                BudgetTokens = parse.GetValue(budgetTokens),
                Concurrency = parse.GetValue(concurrency),
                MaxOutputTokens = parse.GetValue(maxOutput),
                System = parse.GetValue(system),
                Temperature = parse.GetValue(temperature),
                PriceInput = parse.GetValue(priceInput),
                PriceOutput = parse.GetValue(priceOutput),
                CacheDirectory = parse.GetValue(cacheDir)!,
                NoCache = parse.GetValue(noCache),
                SkipInvalid = parse.GetValue(skipInvalid),
                MaxAttempts = parse.GetValue(maxAttempts),
                TimeoutSeconds = parse.GetValue(timeout),
                Plain = parse.GetValue(plain) || !AnsiConsole.Profile.Capabilities.Interactive,
            };
            // Ctrl+C / SIGTERM end the run cleanly (records written so far stay; a rerun resumes).
            using var interrupt = new ConsoleInterrupt(cancellationToken);
            return await RunAsync(settings, Console.Out, Console.Error, Environment.GetEnvironmentVariable, interrupt.Token).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>Runs the command; returns 0 (done), 3 (stopped by the budget), 2 (bad input), 1 (failed), 130 (interrupted).</summary>
    internal static async Task<int> RunAsync(Settings settings, TextWriter stdout, TextWriter stderr, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        var logger = new WriterLogger(stderr);
        TeacherDataGenerator generator;
        Uri endpoint;
        try
        {
            (generator, endpoint) = Build(settings, environment, logger);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            await stderr.WriteLineAsync($"kd generate: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"kd generate: {settings.Prompts} -> {settings.Output}; model {settings.Model} at {Extensions.AI.Teachers.OpenAICompatibleChatClient.Redact(endpoint)}; concurrency {settings.Concurrency}; cache {(settings.NoCache ? "off" : settings.CacheDirectory)}")).ConfigureAwait(false);
        GenerationSummary summary;
        try
        {
            summary = settings.Plain
                ? await generator.GenerateAsync(settings.Prompts, settings.Output, new PlainProgress(stdout, settings.PlainProgressInterval), cancellationToken).ConfigureAwait(false)
                : await RunWithProgressBarAsync(generator, settings, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await stderr.WriteLineAsync($"kd generate: interrupted. Every record written so far is in {settings.Output}; run the same command again to continue.").ConfigureAwait(false);
            return 130;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or FileNotFoundException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync($"kd generate: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
        await stdout.WriteLineAsync(FormatSummary(summary)).ConfigureAwait(false);
        return summary.StopReason == GenerationStopReason.BudgetReached ? 3 : 0;
    }

    private static (TeacherDataGenerator Generator, Uri Endpoint) Build(Settings s, Func<string, string?> environment, ILogger logger)
    {
        if (!Uri.TryCreate(s.Endpoint, UriKind.Absolute, out Uri? endpoint))
        {
            throw new ArgumentException($"--endpoint '{s.Endpoint}' is not an absolute URL; pass the API base, e.g. http://127.0.0.1:8000/v1.");
        }
        Extensions.AI.Teachers.OpenAICompatibleChatClient.ValidateEndpoint(endpoint);
        if (s.BudgetUsd is < 0)
        {
            throw new ArgumentException($"--budget-usd {s.BudgetUsd.Value.ToString(CultureInfo.InvariantCulture)} is negative; give the most the run may spend (0 or more).");
        }
        if (s.BudgetTokens is < 0)
        {
            throw new ArgumentException($"--budget-tokens {s.BudgetTokens.Value.ToString(CultureInfo.InvariantCulture)} is negative; give the most tokens the run may use (0 or more).");
        }
        if ((s.PriceInput is null) != (s.PriceOutput is null))
        {
            throw new ArgumentException("Give both --price-input and --price-output (USD per million tokens), or neither.");
        }
        if (s.TimeoutSeconds <= 0 || !double.IsFinite(s.TimeoutSeconds))
        {
            throw new ArgumentException($"--timeout {s.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)} must be a positive number of seconds.");
        }
        string? key = ApiKeyVariables.Select(environment).FirstOrDefault(v => !string.IsNullOrEmpty(v));
        if (key is null)
        {
            // Local servers (vLLM, llama.cpp, Ollama) ignore the key; a remote endpoint without one would only fail later.
            key = endpoint.IsLoopback ? "no-key" : throw new ArgumentException($"No API key: set {string.Join(" or ", ApiKeyVariables)} in the environment (it is sent only to the endpoint, never printed or written).");
        }
        var options = new ChatClientTeacherOptions
        {
            Model = s.Model,
            SystemPrompt = s.System,
            Temperature = s.Temperature,
            MaxOutputTokens = s.MaxOutputTokens,
            TopLogProbabilities = s.TopLogprobs,
            UseCache = !s.NoCache,
            Retry = new RetryOptions
            {
                MaxAttempts = s.MaxAttempts,
                AttemptTimeout = TimeSpan.FromSeconds(s.TimeoutSeconds),
                BaseDelay = TimeSpan.FromSeconds(s.BaseDelaySeconds),
                MaxDelay = TimeSpan.FromSeconds(Math.Max(60, s.BaseDelaySeconds)),
            },
        };
        if (s.PriceInput is { } input && s.PriceOutput is { } outputPrice)
        {
            options.Prices.Add(s.Model, new ModelPrice(input, outputPrice));
        }
        IChatClient client = Extensions.AI.Teachers.OpenAICompatibleChatClient.Create(endpoint, s.Model, key);
        IDistributedCache? cache = s.NoCache ? null : new FileDistributedCache(s.CacheDirectory);
        var teacher = new ChatClientTeacher(client, options, cache, logger);
        var generation = new GenerationOptions
        {
            MaxConcurrency = s.Concurrency,
            MaxCost = s.BudgetUsd,
            MaxTotalTokens = s.BudgetTokens,
            InvalidLines = s.SkipInvalid ? InvalidPromptLinePolicy.Skip : InvalidPromptLinePolicy.Stop,
        };
        return (new TeacherDataGenerator(teacher, generation, logger), endpoint);
    }

    private static async Task<GenerationSummary> RunWithProgressBarAsync(TeacherDataGenerator generator, Settings settings, CancellationToken cancellationToken)
    {
        GenerationSummary? summary = null;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                ProgressTask bar = context.AddTask("starting", maxValue: 1);
                var progress = new InlineProgress(p =>
                {
                    bar.MaxValue = Math.Max(1, p.Total ?? p.Finished);
                    bar.Value = p.Finished;
                    bar.Description = Markup.Escape(Describe(p));
                });
                summary = await generator.GenerateAsync(settings.Prompts, settings.Output, progress, cancellationToken).ConfigureAwait(false);
                bar.Value = bar.MaxValue;
            }).ConfigureAwait(false);
        return summary!;
    }

    internal static string Describe(GenerationProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"{p.Finished}/{p.Total?.ToString(CultureInfo.InvariantCulture) ?? "?"} done, {p.CacheHits} cached, {p.Retries} retries, {p.PermanentErrors} errors, {p.Cost:0.####} {p.Currency}{(p.EstimatedRemaining is { } eta ? $", ETA {eta:hh\\:mm\\:ss}" : "")}");

    internal static string FormatSummary(GenerationSummary s)
    {
        GenerationProgress p = s.Final;
        var c = CultureInfo.InvariantCulture;
        var text = new System.Text.StringBuilder();
        text.AppendLine(c, $"{(s.StopReason == GenerationStopReason.BudgetReached ? "stopped by the budget" : "done")}: {p.Written} record(s) written ({p.Written - p.CacheHits - p.PermanentErrors} from the model, {p.CacheHits} from the cache, {p.PermanentErrors} permanent errors), {p.AlreadyDone} already in the output");
        text.AppendLine(c, $"requests {p.Requests} (retries {p.Retries}), tokens {p.InputTokens} in / {p.OutputTokens} out, cost {p.Cost:0.######} {p.Currency}, {p.Elapsed.TotalSeconds:0.00} s");
        if (p.CacheHits > 0)
        {
            text.AppendLine(c, $"{p.CacheHits} answer(s) came from the cache and cost nothing{(p.Requests == 0 ? "; no request was sent: this run cost nothing" : "")}");
        }
        if (p.TransientFailures > 0)
        {
            text.AppendLine(c, $"{p.TransientFailures} prompt(s) failed after all retries and have no record: run the same command again to retry them");
        }
        if (s.NotStarted > 0)
        {
            text.AppendLine(c, $"{s.NotStarted} prompt(s) not started (budget); rerun with a larger budget to finish");
        }
        if (s.RepairedBytes > 0)
        {
            text.AppendLine(c, $"repaired a torn last line ({s.RepairedBytes} bytes) left by an interrupted run");
        }
        foreach (InvalidPromptLine line in s.InvalidLines)
        {
            text.AppendLine(c, $"skipped prompts line {line.LineNumber}: {line.Reason}");
        }
        return text.ToString().TrimEnd();
    }

    /// <summary>One line per interval (2 s) and at the end (for logs and CI, where a live bar would be noise).</summary>
    private sealed class PlainProgress(TextWriter writer, TimeSpan interval) : IProgress<GenerationProgress>
    {
        private readonly Lock _lock = new();
        private long _last = long.MinValue / 2;

        public void Report(GenerationProgress value)
        {
            lock (_lock)
            {
                long now = Environment.TickCount64;
                bool last = value.Total is { } t && value.Finished >= t;
                if (now - _last >= (long)interval.TotalMilliseconds || last)
                {
                    _last = now;
                    writer.WriteLine(Describe(value));
                }
            }
        }
    }

    private sealed class InlineProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }

    /// <summary>Warnings and errors to stderr (the library never passes credentials to its logger).</summary>
    private sealed class WriterLogger(TextWriter writer) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                writer.WriteLine($"{(logLevel >= LogLevel.Error ? "error" : "warning")}: {formatter(state, exception)}");
            }
        }
    }
}
