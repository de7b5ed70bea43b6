using System.Diagnostics;
using KnowledgeDistillation.Extensions.AI.Teachers;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>
/// Runs a <see cref="ChatClientTeacher"/> over a set of prompts and writes one JSONL record per prompt: bounded
/// concurrency, answers from the cache when it has them, retries, a budget cap, and resumable, loss-free output
/// (records are appended and flushed as they complete; a rerun skips prompts that have a record and repairs a torn
/// last line). Cancel the token to stop: records already written stay, and a rerun finishes the job.
/// </summary>
public sealed class TeacherDataGenerator
{
    private readonly ChatClientTeacher _teacher;
    private readonly GenerationOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates a generator.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (a negative budget, a concurrency below 1…).</exception>
    /// <exception cref="ArgumentException">A budget is set but the cost of a request cannot be bounded (no MaxOutputTokens, or no price for the model).</exception>
    public TeacherDataGenerator(ChatClientTeacher teacher, GenerationOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        _teacher = teacher;
        _options = options ?? new GenerationOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
        if ((_options.MaxCost is not null || _options.MaxTotalTokens is not null) && teacher.Options.MaxOutputTokens is null)
        {
            throw new ArgumentException("A budget is set but ChatClientTeacherOptions.MaxOutputTokens is not: without it the most a request can cost is unknown, so the cap could not be guaranteed. Set MaxOutputTokens (kd generate --max-output-tokens).", nameof(options));
        }
        if (_options.MaxCost is not null && teacher.Options.Prices.Find(teacher.Model) is null)
        {
            throw new ArgumentException($"A budget in {teacher.Options.Prices.Currency} is set but the price table has no price for model '{teacher.Model ?? "(the client's default)"}'. Add one (PriceTable.Add, kd generate --price-input/--price-output), or use a token budget.", nameof(options));
        }
    }

    /// <summary>Reads a prompts JSONL file (see <see cref="PromptFile"/>; all lines are validated before anything is sent) and generates its records.</summary>
    /// <exception cref="TeacherRequestException">The endpoint refused the credentials (HTTP 401/403: <see cref="TeacherRequestException.IsAuthenticationFailure"/>); the run stopped at once.</exception>
    /// <exception cref="TeacherCacheUnavailableException">The cache cannot be reached and <see cref="GenerationOptions.RequireCache"/> is set.</exception>
    /// <exception cref="IOException">Another run is writing the output (it is locked), or it cannot be written.</exception>
    public async Task<GenerationSummary> GenerateAsync(string promptsPath, string outputPath, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        PromptFileContents contents = await PromptFile.ReadAsync(promptsPath, _options.InvalidLines, cancellationToken).ConfigureAwait(false);
        foreach (InvalidPromptLine line in contents.InvalidLines)
        {
            _logger.LogWarning("Skipping {Path}, line {Line}: {Reason}.", promptsPath, line.LineNumber, line.Reason);
        }
        IReadOnlyList<TeacherPrompt> prompts = contents.Prompts;
        if (_options.Shard is { } shard)
        {
            prompts = [.. prompts.Where(p => shard.Contains(p.Id))];
            _logger.LogInformation("Shard {Shard}: {Count} of the {Total} prompt(s).", shard, prompts.Count, contents.Prompts.Count);
        }
        return await RunAsync(prompts.ToAsyncEnumerable(), prompts.Count, contents.InvalidLines, outputPath, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Generates records for prompts from any source (only those of <see cref="GenerationOptions.Shard"/> when set). Prompt ids must be unique.</summary>
    /// <exception cref="TeacherRequestException">The endpoint refused the credentials (HTTP 401/403); the run stopped at once.</exception>
    /// <exception cref="TeacherCacheUnavailableException">The cache cannot be reached and <see cref="GenerationOptions.RequireCache"/> is set.</exception>
    /// <exception cref="IOException">Another run is writing the output (it is locked), or it cannot be written.</exception>
    public Task<GenerationSummary> GenerateAsync(IAsyncEnumerable<TeacherPrompt> prompts, string outputPath, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (_options.Shard is { } shard)
        {
            prompts = prompts.Where(p => shard.Contains(p.Id));
        }
        return RunAsync(prompts, null, [], outputPath, progress, cancellationToken);
    }

    private async Task<GenerationSummary> RunAsync(IAsyncEnumerable<TeacherPrompt> prompts, int? total, IReadOnlyList<InvalidPromptLine> invalidLines, string outputPath, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        // The cache before the output: a run that must not go uncached fails before it opens (or repairs) the output.
        if (_teacher.HasCache && await _teacher.ProbeCacheAsync(cancellationToken).ConfigureAwait(false) is { } cacheProblem)
        {
            if (_options.RequireCache)
            {
                throw new TeacherCacheUnavailableException($"The answer cache cannot be reached ({cacheProblem}). Start it (or correct its address), or run without it on purpose (GenerationOptions.RequireCache = false; kd generate --cache-optional), which pays again for answers it holds. Nothing was sent or written.");
            }
            _teacher.CacheFailed("connect", cacheProblem);
        }
        await using TeacherRecordWriter writer = TeacherRecordWriter.Open(outputPath, _options.FlushToDisk);
        if (writer.RepairedBytes > 0)
        {
            _logger.LogWarning("Output {Path} ended with a torn line ({Bytes} bytes, from an interrupted run); removed it. That prompt is generated again.", outputPath, writer.RepairedBytes);
        }
        var state = new RunState(total, _teacher.Options.Prices.Currency, progress) { MaxFailureRate = _options.MaxFailureRate };
        var budget = new BudgetTracker(_options.MaxCost, _options.MaxTotalTokens);
        _logger.LogInformation("Generating {Total} prompt(s) with model {Model} into {Path}: {Existing} already there, cache {Cache}, concurrency {Concurrency}, budget {Budget}.",
            total?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?", _teacher.Model ?? "(default)", outputPath, writer.LastIsError.Count,
            _teacher.HasCache ? "on" : "off", _options.MaxConcurrency, DescribeBudget());

        using var failFast = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        CancellationToken token = failFast.Token;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var inFlight = new List<Task>(_options.MaxConcurrency);
        int notStarted = 0, retriedErrors = 0;
        try
        {
            await foreach (TeacherPrompt prompt in prompts.WithCancellation(token).ConfigureAwait(false))
            {
                token.ThrowIfCancellationRequested();
                if (!seen.Add(prompt.Id))
                {
                    throw new InvalidDataException($"Prompt id '{prompt.Id}' occurs twice in the input; ids must be unique (one record per id).");
                }
                if (writer.LastIsError.TryGetValue(prompt.Id, out bool lastIsError))
                {
                    if (!lastIsError || !_options.RetryErrorRecords)
                    {
                        state.Update(s => s.AlreadyDone++);
                        continue;
                    }
                    retriedErrors++;   // an error record, tried again: a new record will supersede it
                }
                while (inFlight.Count >= _options.MaxConcurrency)
                {
                    Task done = await Task.WhenAny(inFlight).ConfigureAwait(false);
                    inFlight.Remove(done);
                    await done.ConfigureAwait(false);   // surfaces a fatal error (refused credentials, the output cannot be written…)
                }
                if (state.BudgetReached || state.FailureLimitReached)
                {
                    notStarted++;
                    continue;
                }
                inFlight.Add(ProcessAsync(prompt, writer, budget, state, failFast));
            }
            await Task.WhenAll(inFlight).ConfigureAwait(false);
        }
        catch
        {
            // Let the requests already running end (cancelled, or written whole) before the output is closed.
            await failFast.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(inFlight).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or TeacherRequestException or IOException)
            {
                // The first error is the one reported.
            }
            GenerationProgress partial = state.Snapshot();
            _logger.LogWarning("Run stopped after {Written} new record(s) ({AlreadyDone} were already there); rerun to continue.", partial.Written, partial.AlreadyDone);
            if (state.Fatal is { } fatal)
            {
                // Refused credentials cancel the other requests: report the cause, not the cancellations it caused.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(fatal);
            }
            throw;
        }
        notStarted += state.BudgetSkipped;
        GenerationProgress final = state.Snapshot();
        var summary = new GenerationSummary(GenerationStopReason.Completed, final, notStarted, writer.RepairedBytes, invalidLines, outputPath)
        {
            FailureKinds = state.FailureKindsSnapshot(),
            LastFailure = state.LastFailure,
            RetriedErrorRecords = retriedErrors,
            Shard = _options.Shard,
        };
        GenerationStopReason reason =
            summary.Attempted > 0 && (summary.Answered == 0 || summary.FailureRate > _options.MaxFailureRate) ? GenerationStopReason.TooManyFailures
            : state.BudgetReached ? GenerationStopReason.BudgetReached
            : GenerationStopReason.Completed;
        summary = summary with { StopReason = reason };
        _logger.LogInformation("Generation {Reason}: {Written} record(s) written ({CacheHits} from cache, {Errors} permanent errors), {AlreadyDone} already there, {Transient} transient failures, {NotStarted} not started; {Requests} request(s), {Retries} retries, {Tokens} tokens, cost {Cost} {Currency}, {Elapsed}.",
            reason, final.Written, final.CacheHits, final.PermanentErrors, final.AlreadyDone, final.TransientFailures, notStarted, final.Requests, final.Retries,
            final.InputTokens + final.OutputTokens, final.Cost, final.Currency, final.Elapsed);
        if (reason == GenerationStopReason.TooManyFailures)
        {
            _logger.LogError("{Failed} of {Attempted} prompt(s) got no answer (failure rate {Rate:0.###}, limit {Limit:0.###}); last failure: {Last}",
                summary.Failed, summary.Attempted, summary.FailureRate, _options.MaxFailureRate, summary.LastFailure);
        }
        return summary;
    }

    private async Task ProcessAsync(TeacherPrompt prompt, TeacherRecordWriter writer, BudgetTracker budget, RunState state, CancellationTokenSource failFast)
    {
        await Task.Yield();
        CancellationToken cancellationToken = failFast.Token;
        IReadOnlyList<ChatMessage> sent = _teacher.BuildMessages(prompt);
        TeacherResponse? cached = await _teacher.TryGetCachedAsync(prompt, cancellationToken).ConfigureAwait(false);
        if (cached is not null)
        {
            await writer.AppendAsync(ToRecord(sent, cached)).ConfigureAwait(false);
            state.Update(s => { s.Written++; s.CacheHits++; });
            return;
        }
        (long Tokens, decimal? Cost) bound = budget.IsLimited ? _teacher.GetUpperBound(prompt) : (0, null);
        if (budget.IsLimited && !budget.TryReserve(bound.Tokens, bound.Cost))
        {
            state.Update(s => { s.BudgetReached = true; s.BudgetSkipped++; });
            return;
        }
        TeacherResponse answer;
        try
        {
            answer = await _teacher.RequestAsync(prompt, retry => state.Update(s => { s.Retries++; s.Requests++; }), cancellationToken).ConfigureAwait(false);
        }
        catch (TeacherRequestException e)
        {
            budget.Release(bound.Tokens, bound.Cost);
            string kind = e.FailureKind ?? (e.StatusCode is { } code ? $"http_{code}" : "error");
            string message = _teacher.Redactor.Redact(e.Message);
            if (e.IsAuthenticationFailure)
            {
                // Not about this prompt: no record (a rerun with working credentials answers it), and every other
                // request would be refused the same way, so the whole run stops now.
                var fatal = new TeacherRequestException(prompt.Id,
                    $"The endpoint refused the credentials: HTTP {e.StatusCode} ({(System.Net.HttpStatusCode)e.StatusCode!.Value}). The run stopped at once; nothing is written for a refused request, so a rerun with working credentials answers it. ({message})",
                    e.StatusCode, isTransient: false, e.Attempts, e.InnerException)
                {
                    FailureKind = kind,
                };
                state.Update(s => { s.Requests++; s.Fatal ??= fatal; });
                await failFast.CancelAsync().ConfigureAwait(false);
                throw state.Fatal!;
            }
            if (e.IsTransient)
            {
                // Transport failures (refused connection, timeout, malformed reply, 5xx…) are never recorded as the
                // prompt's answer: no record, so a rerun tries again.
                state.Update(s => { s.Requests++; s.TransientFailures++; s.RecordFailure(kind, message); });
                return;
            }
            var error = new RecordError(kind, e.StatusCode, message);
            await writer.AppendAsync(new TeacherRecord { Id = prompt.Id, Messages = ToRecordMessages(sent), Attempts = e.Attempts, Error = error }).ConfigureAwait(false);
            state.Update(s => { s.Requests++; s.Written++; s.PermanentErrors++; s.RecordFailure(kind, message); });
            return;
        }
        catch
        {
            budget.Release(bound.Tokens, bound.Cost);
            throw;
        }
        bool usageKnown = answer.Usage.InputTokens is not null && answer.Usage.OutputTokens is not null;
        budget.Settle(bound.Tokens, bound.Cost, usageKnown ? answer.Usage.TotalTokens : null, answer.Cost);
        // The paid answer reaches the output (written and flushed) before the cache: a cache that fails, or a crash
        // between the two, can never lose it.
        await writer.AppendAsync(ToRecord(sent, answer)).ConfigureAwait(false);
        state.Update(s =>
        {
            s.Written++;
            s.Requests++;
            s.InputTokens += answer.Usage.InputTokens ?? 0;
            s.OutputTokens += answer.Usage.OutputTokens ?? 0;
            s.Cost += answer.Cost ?? 0;
        });
        await _teacher.StoreAsync(prompt, answer, cancellationToken).ConfigureAwait(false);
    }

    private TeacherRecord ToRecord(IReadOnlyList<ChatMessage> sent, TeacherResponse answer) => new()
    {
        Id = answer.PromptId,
        Messages = ToRecordMessages(sent),
        Response = answer.Text,
        FinishReason = answer.FinishReason,
        Model = answer.ModelId,
        Usage = answer.Usage,
        Logprobs = answer.LogProbabilities,
        LatencyMs = Math.Round(answer.Latency.TotalMilliseconds, 3),
        Cost = answer.Cost,
        Currency = answer.Cost is null ? null : _teacher.Options.Prices.Currency,
        Cached = answer.FromCache,
        Attempts = answer.Attempts,
    };

    private static RecordMessage[] ToRecordMessages(IReadOnlyList<ChatMessage> messages)
    {
        var result = new RecordMessage[messages.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = new RecordMessage(messages[i].Role.Value, messages[i].Text);
        }
        return result;
    }

    private string DescribeBudget()
    {
        var parts = new List<string>(2);
        if (_options.MaxCost is { } cost)
        {
            parts.Add($"{cost} {_teacher.Options.Prices.Currency}");
        }
        if (_options.MaxTotalTokens is { } tokens)
        {
            parts.Add($"{tokens} tokens");
        }
        return parts.Count == 0 ? "none" : string.Join(" and ", parts);
    }

    /// <summary>Counters shared by the workers; every change is reported to the progress sink under one lock, so reports are consistent.</summary>
    private sealed class RunState(int? total, string currency, IProgress<GenerationProgress>? progress)
    {
        private readonly Lock _lock = new();
        private readonly long _started = Stopwatch.GetTimestamp();
        private readonly Dictionary<string, int> _failureKinds = new(StringComparer.Ordinal);
        public int AlreadyDone, Written, CacheHits, PermanentErrors, TransientFailures, Requests, Retries, BudgetSkipped;
        public long InputTokens, OutputTokens;
        public decimal Cost;
        public bool BudgetReached;
        public string? LastFailure;
        public TeacherRequestException? Fatal;
        private volatile bool _failureLimitReached;

        /// <summary>Set once failures exceed MaxFailureRate × total: the run can no longer end within its limit.</summary>
        public bool FailureLimitReached => _failureLimitReached;

        public double MaxFailureRate { get; init; } = 1;

        /// <summary>Counts a failed prompt (call inside <see cref="Update"/>).</summary>
        public void RecordFailure(string kind, string message)
        {
            _failureKinds[kind] = _failureKinds.GetValueOrDefault(kind) + 1;
            LastFailure = message;
            if (total is { } t && PermanentErrors + TransientFailures > MaxFailureRate * t)
            {
                _failureLimitReached = true;
            }
        }

        public IReadOnlyDictionary<string, int> FailureKindsSnapshot()
        {
            lock (_lock)
            {
                return new Dictionary<string, int>(_failureKinds, StringComparer.Ordinal);
            }
        }

        public void Update(Action<RunState> change)
        {
            GenerationProgress snapshot;
            lock (_lock)
            {
                change(this);
                snapshot = SnapshotUnlocked();
            }
            progress?.Report(snapshot);
        }

        public GenerationProgress Snapshot()
        {
            lock (_lock)
            {
                return SnapshotUnlocked();
            }
        }

        private GenerationProgress SnapshotUnlocked()
        {
            TimeSpan elapsed = Stopwatch.GetElapsedTime(_started);
            int processed = Written + TransientFailures;
            TimeSpan? eta = null;
            if (total is { } t && processed > 0)
            {
                int remaining = Math.Max(0, t - AlreadyDone - processed);
                eta = TimeSpan.FromTicks((long)(elapsed.Ticks / (double)processed * remaining));
            }
            return new GenerationProgress
            {
                Total = total,
                AlreadyDone = AlreadyDone,
                Written = Written,
                CacheHits = CacheHits,
                PermanentErrors = PermanentErrors,
                TransientFailures = TransientFailures,
                Requests = Requests,
                Retries = Retries,
                InputTokens = InputTokens,
                OutputTokens = OutputTokens,
                Cost = Cost,
                Currency = currency,
                Elapsed = elapsed,
                EstimatedRemaining = eta,
            };
        }
    }
}
