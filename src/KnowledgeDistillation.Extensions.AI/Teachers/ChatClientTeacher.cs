using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using KnowledgeDistillation.Extensions.AI.Caching;
using KnowledgeDistillation.Extensions.AI.Generation;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OpenAI.Chat;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>
/// A large language model behind any <see cref="IChatClient"/> used as a teacher: answers prompts and records the
/// text, the per-token top-k log-probabilities (when the provider returns them), usage, latency, finish reason, model
/// and cost. Answers are cached through <see cref="IDistributedCache"/>, keyed by (model, messages, options), and
/// transient failures are retried (see <see cref="RetryOptions"/>). A cache that fails is skipped (logged once) rather
/// than failing a request. Every error text is redacted (<see cref="Redactor"/>). Thread-safe: one teacher serves
/// concurrent prompts.
/// </summary>
public sealed class ChatClientTeacher
{
    private readonly IChatClient _client;
    private readonly IDistributedCache? _cache;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private int _cacheDown;          // 1 while the cache is being skipped after a failure
    private long _cacheRetryAt;      // timestamp (_time) from which a skipped cache is tried again

    /// <summary>Creates a teacher.</summary>
    /// <param name="chatClient">The chat client. Turn off its own retries (e.g. <see cref="OpenAICompatibleChatClient"/> does) so that only this teacher's loop, which honours budgets and records failures, retries.</param>
    /// <param name="options">Options, validated here; null for the defaults.</param>
    /// <param name="cache">Where answers are cached; null for no cache. <see cref="FileDistributedCache"/> is the local default; any <see cref="IDistributedCache"/> (Redis, SQL Server) works.</param>
    /// <param name="logger">Logs retries and failures (never credentials).</param>
    /// <param name="timeProvider">Clock for back-off delays and timeouts; null for the system clock.</param>
    public ChatClientTeacher(IChatClient chatClient, ChatClientTeacherOptions? options = null, IDistributedCache? cache = null, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(chatClient);
        Options = options ?? new ChatClientTeacherOptions();
        Options.Validate();
        _client = chatClient;
        _cache = Options.UseCache ? cache : null;
        _logger = logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        Model = Options.Model ?? chatClient.GetService<ChatClientMetadata>()?.DefaultModelId;
        Redactor = new SecretRedactor(Options.Secrets);
    }

    /// <summary>Masks <see cref="ChatClientTeacherOptions.Secrets"/> and bearer tokens in every error text the teacher produces.</summary>
    public SecretRedactor Redactor { get; }

    /// <summary>The options (do not change them after the teacher is created).</summary>
    public ChatClientTeacherOptions Options { get; }

    /// <summary>The requested model: <see cref="ChatClientTeacherOptions.Model"/>, or the chat client's default model.</summary>
    public string? Model { get; }

    /// <summary>Whether answers are cached.</summary>
    public bool HasCache => _cache is not null;

    /// <summary>Answers one prompt: from the cache when it holds the answer, otherwise from the model (with retries), then caches it.</summary>
    /// <exception cref="TeacherRequestException">A permanent error, or transient errors until the attempts ran out.</exception>
    public async Task<TeacherResponse> GenerateAsync(TeacherPrompt prompt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (await TryGetCachedAsync(prompt, cancellationToken).ConfigureAwait(false) is { } cached)
        {
            return cached;
        }
        TeacherResponse answer = await RequestAsync(prompt, onRetry: null, cancellationToken).ConfigureAwait(false);
        await StoreAsync(prompt, answer, cancellationToken).ConfigureAwait(false);
        return answer;
    }

    /// <summary>
    /// The cached answer to a prompt, or null when the cache does not hold it, there is no cache, or the cache cannot
    /// be reached (then it is skipped for <see cref="ChatClientTeacherOptions.CacheRetryInterval"/>, logged once).
    /// </summary>
    public async Task<TeacherResponse?> TryGetCachedAsync(TeacherPrompt prompt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (!CacheUsable)
        {
            return null;
        }
        byte[]? bytes;
        try
        {
            bytes = await _cache!.GetAsync(CacheKey(prompt), cancellationToken).ConfigureAwait(false);
            CacheSucceeded();
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            CacheFailed("read", Describe(e));
            return null;
        }
        if (bytes is null)
        {
            return null;
        }
        try
        {
            CachedAnswer? cached = JsonSerializer.Deserialize(bytes, TeacherJson.Files.CachedAnswer);
            return cached?.ToResponse(prompt.Id);
        }
        catch (JsonException e)
        {
            _logger.LogWarning(e, "Ignoring an unreadable cache entry for prompt {PromptId}.", prompt.Id);
            return null;
        }
    }

    /// <summary>
    /// The most tokens and the most money one request for this prompt can cost: every prompt byte counted as a token
    /// (a byte-level BPE token is never shorter than a byte) plus a per-message allowance, and
    /// <see cref="ChatClientTeacherOptions.MaxOutputTokens"/> generated tokens. Used to stop a run before a budget is exceeded.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="ChatClientTeacherOptions.MaxOutputTokens"/> is not set.</exception>
    public (long Tokens, decimal? Cost) GetUpperBound(TeacherPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        int maxOutput = Options.MaxOutputTokens ?? throw new InvalidOperationException(
            "ChatClientTeacherOptions.MaxOutputTokens is not set, so the most a request can cost is unknown: set it (e.g. --max-output-tokens) to use a budget.");
        long input = 16;
        foreach (ChatMessage message in BuildMessages(prompt))
        {
            input += 8 + Encoding.UTF8.GetByteCount(message.Text);
        }
        ModelPrice? price = Options.Prices.Find(Model);
        return (input + maxOutput, price?.CostOf(input, maxOutput));
    }

    internal async Task<TeacherResponse> RequestAsync(TeacherPrompt prompt, Action<TeacherRetry>? onRetry, CancellationToken cancellationToken)
    {
        IReadOnlyList<ChatMessage> messages = BuildMessages(prompt);
        ChatOptions chatOptions = BuildChatOptions();
        RetryOptions retry = Options.Retry;
        for (int attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Failure failure;
            Exception error;
            long started = _time.GetTimestamp();
            using (var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                attemptCts.CancelAfter(retry.AttemptTimeout);
                try
                {
                    ChatResponse response = await _client.GetResponseAsync(messages, chatOptions, attemptCts.Token).ConfigureAwait(false);
                    return ToTeacherResponse(prompt.Id, response, _time.GetElapsedTime(started), attempt);
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    // Our per-attempt timeout (or a client's own) fired: the request hung.
                    failure = new Failure(true, null, "timeout", null);
                    error = new TimeoutException($"No answer within {retry.AttemptTimeout.TotalSeconds:0.###} s.", e);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    failure = FailureClassifier.Classify(e);
                    error = e;
                }
            }
            string description = FailureClassifier.Describe(error, failure, Redactor);
            if (!failure.IsTransient || attempt >= retry.MaxAttempts)
            {
                string kind = failure.IsAuthentication ? "credentials refused" : failure.IsTransient ? "attempts exhausted" : "permanent error";
                _logger.LogWarning("Prompt {PromptId} failed after {Attempts} attempt(s), {Kind}: {Error}", prompt.Id, attempt, kind, description);
                // The client's exception may quote the server's body, which may echo the key: only a redacted copy is kept.
                throw new TeacherRequestException(prompt.Id, $"Prompt '{prompt.Id}' failed after {attempt} attempt(s): {description}", failure.StatusCode, failure.IsTransient, attempt, Redactor.Redact(error))
                {
                    FailureKind = failure.Kind,
                };
            }
            TimeSpan delay = NextDelay(attempt, failure.RetryAfter);
            _logger.LogInformation("Prompt {PromptId}: attempt {Attempt} failed ({Error}); retrying in {DelayMs:0} ms{Hint}.", prompt.Id, attempt, description, delay.TotalMilliseconds, failure.RetryAfter is null ? "" : " as the server asked (Retry-After)");
            onRetry?.Invoke(new TeacherRetry(prompt.Id, attempt, failure.Kind, failure.StatusCode, delay));
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Exponential back-off with full jitter, replaced by the server's Retry-After when it sent one; capped by MaxDelay.</summary>
    internal TimeSpan NextDelay(int attempt, TimeSpan? retryAfter)
    {
        RetryOptions retry = Options.Retry;
        if (retryAfter is { } asked)
        {
            return asked < retry.MaxDelay ? asked : retry.MaxDelay;
        }
        double ceiling = Math.Min(retry.MaxDelay.TotalMilliseconds, retry.BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30)));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }

    /// <summary>
    /// Caches an answer from the model. Never fails because of the cache: a failed write is logged (once per outage)
    /// and the cache is skipped for <see cref="ChatClientTeacherOptions.CacheRetryInterval"/>. A generator calls this
    /// only after the answer is written and flushed to its output, so a paid answer is never only in the cache.
    /// </summary>
    internal async Task StoreAsync(TeacherPrompt prompt, TeacherResponse answer, CancellationToken cancellationToken)
    {
        if (!CacheUsable || answer.FromCache)
        {
            return;
        }
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(CachedAnswer.From(answer), TeacherJson.Files.CachedAnswer);
        var entry = new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = Options.CacheLifetime };
        try
        {
            await _cache!.SetAsync(CacheKey(prompt), bytes, entry, cancellationToken).ConfigureAwait(false);
            CacheSucceeded();
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            CacheFailed("write", Describe(e));
        }
    }

    /// <summary>
    /// Reads one (absent) key to find out whether the cache can be reached; null when it can (or there is no cache),
    /// otherwise the failure, with its message redacted. Does not mark the cache as failed.
    /// </summary>
    internal async Task<string?> ProbeCacheAsync(CancellationToken cancellationToken)
    {
        if (_cache is null)
        {
            return null;
        }
        try
        {
            await _cache.GetAsync("kd:llm:probe", cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return Describe(e);
        }
    }

    private string Describe(Exception e) => $"{e.GetType().Name}: {Redactor.Redact(e.Message).ReplaceLineEndings(" ")}";

    private bool CacheUsable => _cache is not null
        && (Volatile.Read(ref _cacheDown) == 0 || _time.GetTimestamp() >= Interlocked.Read(ref _cacheRetryAt));

    /// <summary>Skips the cache for a while; logs only the first failure of an outage (not one line per request).</summary>
    internal void CacheFailed(string operation, string description)
    {
        long retryAt = _time.GetTimestamp() + (long)(Options.CacheRetryInterval.TotalSeconds * _time.TimestampFrequency);
        Interlocked.Exchange(ref _cacheRetryAt, retryAt);
        if (Interlocked.Exchange(ref _cacheDown, 1) == 0)
        {
            _logger.LogWarning("The answer cache failed ({Operation}: {Error}); going on without it: answers are requested and written to the output as usual but not cached. It is tried again in {Interval} s; this is logged once, not for every request.",
                operation, description, Options.CacheRetryInterval.TotalSeconds);
        }
    }

    private void CacheSucceeded()
    {
        if (Volatile.Read(ref _cacheDown) == 1 && Interlocked.Exchange(ref _cacheDown, 0) == 1)
        {
            _logger.LogWarning("The answer cache is reachable again; answers are cached again.");
        }
    }

    private string CacheKey(TeacherPrompt prompt) => TeacherCacheKey.Compute(Model, BuildMessages(prompt), Options);

    internal IReadOnlyList<ChatMessage> BuildMessages(TeacherPrompt prompt)
    {
        if (Options.SystemPrompt is not { Length: > 0 } system)
        {
            return prompt.Messages;
        }
        var messages = new List<ChatMessage>(prompt.Messages.Count + 1) { new(ChatRole.System, system) };
        messages.AddRange(prompt.Messages);
        return messages;
    }

    private ChatOptions BuildChatOptions()
    {
        var chat = new ChatOptions
        {
            ModelId = Options.Model,
            Temperature = Options.Temperature,
            TopP = Options.TopP,
            MaxOutputTokens = Options.MaxOutputTokens,
            Seed = Options.Seed,
        };
        if (Options.StopSequences.Count > 0)
        {
            chat.StopSequences = [.. Options.StopSequences];
        }
        if (Options.TopLogProbabilities is { } k)
        {
            // Microsoft.Extensions.AI has no provider-neutral log-probability option: OpenAI-compatible clients take
            // their own options object as the starting point, other clients ignore it.
            chat.RawRepresentationFactory = _ => new ChatCompletionOptions { IncludeLogProbabilities = true, TopLogProbabilityCount = k };
        }
        return chat;
    }

    private TeacherResponse ToTeacherResponse(string promptId, ChatResponse response, TimeSpan latency, int attempts)
    {
        var usage = new TeacherUsage(response.Usage?.InputTokenCount, response.Usage?.OutputTokenCount, response.Usage?.CachedInputTokenCount);
        ModelPrice? price = Options.Prices.Find(response.ModelId, Model);
        decimal? cost = price is not null && usage.InputTokens is not null && usage.OutputTokens is not null
            ? price.CostOf(usage.InputTokens.Value, usage.OutputTokens.Value, usage.CachedInputTokens ?? 0)
            : null;
        IReadOnlyList<TokenLogProbability>? logProbabilities = Options.TopLogProbabilities is null
            ? null
            : (Options.LogProbabilityReader ?? ReadOpenAILogProbabilities)(response);
        return new TeacherResponse
        {
            PromptId = promptId,
            Text = response.Text,
            LogProbabilities = logProbabilities,
            Usage = usage,
            FinishReason = response.FinishReason?.Value,
            ModelId = response.ModelId ?? Model,
            Latency = latency,
            Cost = cost,
            FromCache = false,
            Attempts = attempts,
        };
    }

    /// <summary>The built-in reader: the OpenAI chat completion that Microsoft.Extensions.AI.OpenAI keeps as the raw representation.</summary>
    internal static IReadOnlyList<TokenLogProbability>? ReadOpenAILogProbabilities(ChatResponse response)
    {
        if (response.RawRepresentation is not ChatCompletion completion || completion.ContentTokenLogProbabilities is not { Count: > 0 } tokens)
        {
            return null;
        }
        var result = new TokenLogProbability[tokens.Count];
        for (int i = 0; i < tokens.Count; i++)
        {
            ChatTokenLogProbabilityDetails token = tokens[i];
            var alternatives = new TokenAlternative[token.TopLogProbabilities.Count];
            for (int j = 0; j < alternatives.Length; j++)
            {
                alternatives[j] = new TokenAlternative(token.TopLogProbabilities[j].Token, Widen(token.TopLogProbabilities[j].LogProbability));
            }
            result[i] = new TokenLogProbability(token.Token, Widen(token.LogProbability), alternatives);
        }
        return result;
    }

    /// <summary>
    /// The float the provider sent (JSON, parsed as float by the OpenAI client) as the double with the same shortest
    /// decimal form: -0.97f becomes -0.97, not -0.9700000286102295.
    /// </summary>
    private static double Widen(float value) => double.Parse(value.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
}

/// <summary>A retry the teacher is about to make.</summary>
/// <param name="PromptId">The prompt.</param>
/// <param name="FailedAttempt">The attempt that failed (1-based).</param>
/// <param name="Kind">Why (<c>http_429</c>, <c>http_500</c>, <c>timeout</c>, <c>connection</c>, <c>malformed_response</c>).</param>
/// <param name="StatusCode">The HTTP status, when there was a response.</param>
/// <param name="Delay">The wait before the next attempt.</param>
internal sealed record TeacherRetry(string PromptId, int FailedAttempt, string Kind, int? StatusCode, TimeSpan Delay);
