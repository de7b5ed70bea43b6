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

    /// <summary>Exit codes (documented in docs/llm-teachers.md).</summary>
    internal const int ExitDone = 0, ExitFailed = 1, ExitBadInput = 2, ExitBudget = 3, ExitTooManyFailures = 4, ExitCredentialsRefused = 5, ExitCacheUnavailable = 6, ExitInterrupted = 130;

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
        public bool CacheDirectoryGiven { get; init; }
        public string? Cache { get; init; }
        public bool CacheOptional { get; init; }
        public bool NoCache { get; init; }
        public bool SkipInvalid { get; init; }
        public bool RetryErrors { get; init; }
        public double MaxFailureRate { get; init; } = 0.5;
        public string? Shard { get; init; }
        public int MaxAttempts { get; init; } = 6;
        public double TimeoutSeconds { get; init; } = 120;
        public double BaseDelaySeconds { get; init; } = 1;
        public bool Plain { get; init; }
        public TimeSpan PlainProgressInterval { get; init; } = TimeSpan.FromSeconds(2);
    }

    public static Command Create()
    {
        var prompts = new Option<string>("--prompts") { Description = "Prompts JSONL (UTF-8): one {\"id\": …, \"prompt\": \"…\"} or {\"messages\": […]} per line.", Required = true };
        var output = new Option<string>("--out") { Description = "Output JSONL (appended to; a rerun skips prompts already there). Locked while a run writes it. With --shard i/n, the worker writes NAME.shard-0000i-of-0000n.EXT next to it.", Required = true };
        var endpoint = new Option<string>("--endpoint") { Description = "OpenAI-compatible API base, e.g. http://127.0.0.1:8000/v1. The key comes from KD_API_KEY or OPENAI_API_KEY.", Required = true };
        var model = new Option<string>("--model") { Description = "Model name.", Required = true };
        var topLogprobs = new Option<int?>("--top-logprobs") { Description = "Record the top K (0-20) log-probabilities per generated token." };
        var budgetUsd = new Option<decimal?>("--budget-usd") { Description = "Stop before the run could spend more than this (0 or more; needs --price-input/--price-output)." };
        var budgetTokens = new Option<long?>("--budget-tokens") { Description = "Stop before the run could use more than this many tokens (input + output; 0 or more)." };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight at once (1-1024).", DefaultValueFactory = _ => 4 };
        var maxOutput = new Option<int?>("--max-output-tokens") { Description = "Most tokens per answer (1-1000000; bounds the cost of a request for the budget).", DefaultValueFactory = _ => 1024 };
        var system = new Option<string?>("--system") { Description = "System prompt put before every prompt." };
        var temperature = new Option<float?>("--temperature") { Description = "Sampling temperature (0-2; provider default when unset)." };
        var priceInput = new Option<decimal?>("--price-input") { Description = "USD per million input tokens for --model (0 or more; for costs and --budget-usd)." };
        var priceOutput = new Option<decimal?>("--price-output") { Description = "USD per million output tokens for --model (0 or more)." };
        var cacheDir = new Option<string>("--cache-dir") { Description = "On-disk cache folder (answers are reused across runs).", DefaultValueFactory = _ => Path.Combine(".kd-cache", "llm") };
        var cache = new Option<string?>("--cache") { Description = "Cache answers in Redis instead of on disk: redis://host:port (redis://:password@host:port/db; rediss:// for TLS). Unreachable at the start: exit 6, unless --cache-optional." };
        var cacheOptional = new Option<bool>("--cache-optional") { Description = "Run without the cache when it cannot be reached at the start (a warning) instead of failing." };
        var noCache = new Option<bool>("--no-cache") { Description = "Neither read nor write the cache." };
        var skipInvalid = new Option<bool>("--skip-invalid") { Description = "Skip invalid prompt lines (bad JSON, bytes that are not UTF-8…; reported and counted) instead of stopping." };
        var retryErrors = new Option<bool>("--retry-errors") { Description = "Try again the prompts whose record in the output is an error record; the new record is appended and supersedes it." };
        var maxFailureRate = new Option<double>("--max-failure-rate") { Description = "Exit 4 when more than this fraction (0-1) of the prompts tried got no answer, or when none got one.", DefaultValueFactory = _ => 0.5 };
        var shard = new Option<string?>("--shard") { Description = "i/n: answer only the prompts of shard i of n (by a hash of the prompt id), into the shard's own file; join the files with kd generate-merge." };
        var maxAttempts = new Option<int>("--max-attempts") { Description = "Requests per prompt, retries included (1-100).", DefaultValueFactory = _ => 6 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds before a request is abandoned and retried (more than 0, at most 86400).", DefaultValueFactory = _ => 120 };
        var plain = new Option<bool>("--plain") { Description = "Plain progress lines instead of a progress bar." };
        var command = new Command("generate", "Answer a prompts file with an LLM teacher (OpenAI-compatible endpoint): one JSONL record per prompt with text, top-k log-probabilities, usage and cost; cached, retried, budgeted, resumable and shardable. Exit codes: 0 done, 2 bad input or output locked, 3 budget reached, 4 too many failures, 5 credentials refused, 6 cache unreachable, 130 interrupted.")
        {
            prompts, output, endpoint, model, topLogprobs, budgetUsd, budgetTokens, concurrency, maxOutput, system, temperature, priceInput, priceOutput, cacheDir, cache, cacheOptional, noCache, skipInvalid, retryErrors, maxFailureRate, shard, maxAttempts, timeout, plain,
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
                CacheDirectoryGiven = parse.GetResult(cacheDir) is { Implicit: false },
                Cache = parse.GetValue(cache),
                CacheOptional = parse.GetValue(cacheOptional),
                NoCache = parse.GetValue(noCache),
                SkipInvalid = parse.GetValue(skipInvalid),
                RetryErrors = parse.GetValue(retryErrors),
                MaxFailureRate = parse.GetValue(maxFailureRate),
                Shard = parse.GetValue(shard),
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

    /// <summary>
    /// Runs the command; returns 0 (done), 2 (bad input, or the output is locked by another run), 3 (stopped by the
    /// budget), 4 (too many failures), 5 (credentials refused), 6 (cache unreachable), 1 (failed), 130 (interrupted).
    /// Every line written to <paramref name="stderr"/> is redacted (API key, Redis password, bearer tokens).
    /// </summary>
    internal static async Task<int> RunAsync(Settings settings, TextWriter stdout, TextWriter stderr, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        if (Validate(settings) is { } invalid)
        {
            await stderr.WriteLineAsync($"kd generate: {invalid}").ConfigureAwait(false);
            return ExitBadInput;
        }
        string? key = ApiKeyVariables.Select(environment).FirstOrDefault(v => !string.IsNullOrEmpty(v));
        var redactor = new SecretRedactor([key, settings.Cache is { } url ? RedisTeacherCache.PasswordOf(url) : null]);
        var err = new RedactingWriter(stderr, redactor);
        var logger = new WriterLogger(err);
        TeacherDataGenerator generator;
        Uri endpoint;
        IDisposable? cacheToDispose;
        try
        {
            (generator, endpoint, cacheToDispose) = Build(settings, key, logger);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            await err.WriteLineAsync($"kd generate: {ex.Message}").ConfigureAwait(false);
            return ExitBadInput;
        }
        using IDisposable? disposeCache = cacheToDispose;
        PromptShard? shard = settings.Shard is { } text ? PromptShard.Parse(text) : null;
        string outputPath = shard is { } s ? s.OutputPathFor(settings.Output) : settings.Output;
        string cacheText = settings.NoCache ? "off" : settings.Cache is { } redis ? RedisTeacherCache.Describe(redis) + (settings.CacheOptional ? " (optional)" : "") : settings.CacheDirectory;
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"kd generate: {settings.Prompts} -> {outputPath}{(shard is { } sh ? $" (shard {sh})" : "")}; model {settings.Model} at {OpenAICompatibleChatClient.Redact(endpoint)}; concurrency {settings.Concurrency}; cache {cacheText}")).ConfigureAwait(false);
        GenerationSummary summary;
        try
        {
            summary = settings.Plain
                ? await generator.GenerateAsync(settings.Prompts, outputPath, new PlainProgress(stdout, settings.PlainProgressInterval), cancellationToken).ConfigureAwait(false)
                : await RunWithProgressBarAsync(generator, settings.Prompts, outputPath, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await err.WriteLineAsync($"kd generate: interrupted. Every record written so far is in {outputPath}; run the same command again to continue.").ConfigureAwait(false);
            return ExitInterrupted;
        }
        catch (TeacherRequestException ex) when (ex.IsAuthenticationFailure)
        {
            await err.WriteLineAsync($"kd generate: {ex.Message} Check the key in {string.Join(" or ", ApiKeyVariables)} (and that it is meant for {OpenAICompatibleChatClient.Redact(endpoint)}), then run the same command again.").ConfigureAwait(false);
            return ExitCredentialsRefused;
        }
        catch (TeacherCacheUnavailableException ex)
        {
            await err.WriteLineAsync($"kd generate: --cache {cacheText}: {ex.Message} Or pass --no-cache.").ConfigureAwait(false);
            return ExitCacheUnavailable;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or FileNotFoundException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            await err.WriteLineAsync($"kd generate: {ex.Message}").ConfigureAwait(false);
            return ExitBadInput;
        }
        await stdout.WriteLineAsync(FormatSummary(summary)).ConfigureAwait(false);
        switch (summary.StopReason)
        {
            case GenerationStopReason.TooManyFailures:
                await err.WriteLineAsync($"kd generate: {DescribeFailures(summary, settings.MaxFailureRate)}").ConfigureAwait(false);
                return ExitTooManyFailures;
            case GenerationStopReason.BudgetReached:
                return ExitBudget;
            default:
                return ExitDone;
        }
    }

    /// <summary>Checks every numeric option against its range: the message names the option, the value and the range.</summary>
    internal static string? Validate(Settings s)
    {
        static string Show(IFormattable value) => value.ToString(null, CultureInfo.InvariantCulture);
        if (s.Concurrency is < 1 or > 1024)
        {
            return $"--concurrency {Show(s.Concurrency)} is out of range: give a whole number from 1 to 1024 (requests in flight at once).";
        }
        if (s.TopLogprobs is { } k && k is < 0 or > 20)
        {
            return $"--top-logprobs {Show(k)} is out of range: give a whole number from 0 to 20 (the providers' limit), or leave it out.";
        }
        if (s.MaxOutputTokens is { } m && m is < 1 or > 1_000_000)
        {
            return $"--max-output-tokens {Show(m)} is out of range: give a whole number from 1 to 1000000.";
        }
        if (s.Temperature is { } t && !(t >= 0 && t <= 2))
        {
            return $"--temperature {Show(t)} is out of range: give a number from 0 to 2, or leave it out for the provider's default.";
        }
        if (s.BudgetUsd is < 0)
        {
            return $"--budget-usd {Show(s.BudgetUsd.Value)} is negative: give the most the run may spend, 0 or more.";
        }
        if (s.BudgetTokens is < 0)
        {
            return $"--budget-tokens {Show(s.BudgetTokens.Value)} is negative: give the most tokens the run may use, 0 or more.";
        }
        if (s.PriceInput is < 0)
        {
            return $"--price-input {Show(s.PriceInput.Value)} is negative: give USD per million input tokens, 0 or more.";
        }
        if (s.PriceOutput is < 0)
        {
            return $"--price-output {Show(s.PriceOutput.Value)} is negative: give USD per million output tokens, 0 or more.";
        }
        if ((s.PriceInput is null) != (s.PriceOutput is null))
        {
            return "give both --price-input and --price-output (USD per million tokens), or neither.";
        }
        if (s.MaxAttempts is < 1 or > 100)
        {
            return $"--max-attempts {Show(s.MaxAttempts)} is out of range: give a whole number from 1 (no retries) to 100.";
        }
        if (!(s.TimeoutSeconds > 0 && s.TimeoutSeconds <= 86_400))
        {
            return $"--timeout {Show(s.TimeoutSeconds)} is out of range: give a number of seconds greater than 0 and at most 86400.";
        }
        if (!(s.MaxFailureRate >= 0 && s.MaxFailureRate <= 1))
        {
            return $"--max-failure-rate {Show(s.MaxFailureRate)} is out of range: give a fraction from 0 to 1 (0.5: fail when more than half of the prompts tried got no answer).";
        }
        if (s.Shard is { } shard)
        {
            try
            {
                PromptShard.Parse(shard);
            }
            catch (FormatException e)
            {
                return $"--shard: {e.Message}";
            }
        }
        if (s.Cache is { } cache)
        {
            if (s.NoCache)
            {
                return "--cache and --no-cache contradict each other: give one of them.";
            }
            if (s.CacheDirectoryGiven)
            {
                return "--cache (Redis) and --cache-dir (a folder) both choose the cache: give one of them.";
            }
            if (!RedisTeacherCache.IsRedisUrl(cache))
            {
                return $"--cache '{RedisTeacherCache.Describe(cache)}' is not a Redis URL: give redis://host:port (e.g. redis://127.0.0.1:6379); for a folder use --cache-dir.";
            }
        }
        return null;
    }

    private static (TeacherDataGenerator Generator, Uri Endpoint, IDisposable? Cache) Build(Settings s, string? key, ILogger logger)
    {
        if (!Uri.TryCreate(s.Endpoint, UriKind.Absolute, out Uri? endpoint))
        {
            throw new ArgumentException($"--endpoint '{s.Endpoint}' is not an absolute URL; pass the API base, e.g. http://127.0.0.1:8000/v1.");
        }
        OpenAICompatibleChatClient.ValidateEndpoint(endpoint);
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
        options.Secrets.Add(key);
        if (s.Cache is { } url && RedisTeacherCache.PasswordOf(url) is { } password)
        {
            options.Secrets.Add(password);
        }
        if (s.PriceInput is { } input && s.PriceOutput is { } outputPrice)
        {
            options.Prices.Add(s.Model, new ModelPrice(input, outputPrice));
        }
        IChatClient client = OpenAICompatibleChatClient.Create(endpoint, s.Model, key);
        IDistributedCache? cache = s.NoCache ? null : s.Cache is { } redis ? RedisTeacherCache.Create(redis) : new FileDistributedCache(s.CacheDirectory);
        var teacher = new ChatClientTeacher(client, options, cache, logger);
        var generation = new GenerationOptions
        {
            MaxConcurrency = s.Concurrency,
            MaxCost = s.BudgetUsd,
            MaxTotalTokens = s.BudgetTokens,
            InvalidLines = s.SkipInvalid ? InvalidPromptLinePolicy.Skip : InvalidPromptLinePolicy.Stop,
            RetryErrorRecords = s.RetryErrors,
            MaxFailureRate = s.MaxFailureRate,
            RequireCache = !s.CacheOptional,
            Shard = s.Shard is { } shard ? PromptShard.Parse(shard) : null,
        };
        return (new TeacherDataGenerator(teacher, generation, logger), endpoint, cache as IDisposable);
    }

    internal static string DescribeFailures(GenerationSummary s, double maxFailureRate)
    {
        var c = CultureInfo.InvariantCulture;
        string kinds = string.Join(", ", s.FailureKinds.OrderByDescending(k => k.Value).ThenBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}"));
        string head = s.Answered == 0 && s.NotStarted == 0
            ? string.Create(c, $"no prompt got an answer: {s.Failed} of {s.Attempted} tried failed ({kinds})")
            : string.Create(c, $"{s.Failed} of {s.Attempted} prompt(s) tried got no answer ({kinds}): failure rate {s.FailureRate:0.###} is above --max-failure-rate {maxFailureRate:0.###}");
        string stopped = s.NotStarted > 0 ? string.Create(c, $"; {s.NotStarted} prompt(s) were not started once the limit could no longer be met") : "";
        return $"{head}{stopped}. Last failure: {s.LastFailure?.TrimEnd('.', ' ')}. Check the endpoint (is the server up, and OpenAI-compatible?), then run the same command again: prompts without a record are tried again (error records with --retry-errors).";
    }

    private static async Task<GenerationSummary> RunWithProgressBarAsync(TeacherDataGenerator generator, string promptsPath, string outputPath, CancellationToken cancellationToken)
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
                summary = await generator.GenerateAsync(promptsPath, outputPath, progress, cancellationToken).ConfigureAwait(false);
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
        string outcome = s.StopReason switch
        {
            GenerationStopReason.BudgetReached => "stopped by the budget",
            GenerationStopReason.TooManyFailures => "failed (too many failures)",
            _ => "done",
        };
        text.AppendLine(c, $"{outcome}: {p.Written} record(s) written ({p.Written - p.CacheHits - p.PermanentErrors} from the model, {p.CacheHits} from the cache, {p.PermanentErrors} permanent errors), {p.AlreadyDone} already in the output");
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
            if (s.StopReason == GenerationStopReason.TooManyFailures)
            {
                text.AppendLine(c, $"{s.NotStarted} prompt(s) not started (too many failures)");
            }
            else
            {
                text.AppendLine(c, $"{s.NotStarted} prompt(s) not started (budget); rerun with a larger budget to finish");
            }
        }
        if (s.RetriedErrorRecords > 0)
        {
            text.AppendLine(c, $"{s.RetriedErrorRecords} error record(s) tried again (--retry-errors); their new records supersede them");
        }
        if (s.Shard is { } shard)
        {
            text.AppendLine(c, $"shard {shard}: join the shards with kd generate-merge --out <the --out path> --shards {shard.Count}");
        }
        if (s.RepairedBytes > 0)
        {
            text.AppendLine(c, $"repaired a torn last line ({s.RepairedBytes} bytes) left by an interrupted run");
        }
        if (s.InvalidLines.Count > 0)
        {
            text.AppendLine(c, $"{s.InvalidLines.Count} invalid prompts line(s) skipped");
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

    /// <summary>Warnings and errors to stderr (through a <see cref="RedactingWriter"/>: no credential reaches the terminal).</summary>
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
