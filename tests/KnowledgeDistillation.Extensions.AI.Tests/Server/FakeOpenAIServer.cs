using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KnowledgeDistillation.Extensions.AI.Tests.Server;

/// <summary>
/// An OpenAI-compatible chat-completions server on 127.0.0.1 (dynamic port), in the test process. Answers are
/// deterministic functions of the prompt. Directives in the last user message script failures per prompt:
/// <c>#429x2</c> (two 429s with Retry-After, then success), <c>#500x1</c>, <c>#hangx1</c> (no answer until the client gives
/// up), <c>#dropx1</c> (headers, half a body, then the connection is aborted), <c>#malformedx1</c> (200 with broken JSON),
/// <c>#htmlx1</c> (200 with an HTML page), <c>#incompletex1</c> (200 with <c>{}</c>), <c>#502x1</c> (a proxy's HTML error page),
/// <c>#400</c>, <c>#401</c>, <c>#403</c> (always without a count). Like some providers and proxies, a 401 echoes the credentials
/// it was sent: the bearer token for a wrong key, the whole Authorization header for <c>#401</c>.
/// </summary>
internal sealed partial class FakeOpenAIServer : IAsyncDisposable
{
    public const string ApiKey = "sk-test-DO-NOT-LEAK-4f1d9c";
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _attempts = new();
    private readonly ConcurrentQueue<ServerRequest> _requests = new();

    private FakeOpenAIServer(WebApplication app) => _app = app;

    /// <summary>The API base to give the client (<c>http://127.0.0.1:port/v1</c>).</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>retry-after-ms sent with 429s (Retry-After in seconds is sent too, rounded up).</summary>
    public int RetryAfterMs { get; set; } = 50;

    /// <summary>Delay before each successful answer.</summary>
    public TimeSpan AnswerDelay { get; set; }

    /// <summary>How long a #hang request waits (the client's timeout must be shorter).</summary>
    public TimeSpan HangFor { get; set; } = TimeSpan.FromSeconds(10);

    public IReadOnlyList<ServerRequest> Requests => [.. _requests];

    public int RequestCount => _requests.Count;

    public static async Task<FakeOpenAIServer> StartAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        WebApplication app = builder.Build();
        var server = new FakeOpenAIServer(app);
        app.MapPost("/v1/chat/completions", server.HandleAsync);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server.Endpoint = new Uri(address.TrimEnd('/') + "/v1");
        return server;
    }

    public int AttemptsFor(string promptText) => _requests.Count(r => r.Prompt == promptText);

    private async Task HandleAsync(HttpContext context)
    {
        JsonNode request = (await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted))!;
        JsonArray messages = request["messages"]!.AsArray();
        string prompt = messages.Last(m => (string?)m!["role"] == "user")!["content"] is JsonValue v ? v.GetValue<string>() : "";
        string model = (string?)request["model"] ?? "unknown";
        bool logprobs = request["logprobs"]?.GetValue<bool>() ?? false;
        int topLogprobs = request["top_logprobs"]?.GetValue<int>() ?? 0;
        int? maxTokens = request["max_completion_tokens"]?.GetValue<int>() ?? request["max_tokens"]?.GetValue<int>();
        int attempt = _attempts.AddOrUpdate(prompt, 1, (_, n) => n + 1);
        _requests.Enqueue(new ServerRequest(prompt, attempt, context.Request.Headers.Authorization.ToString(), DateTimeOffset.UtcNow, request.ToJsonString()));

        string authorization = context.Request.Headers.Authorization.ToString();
        if (authorization != $"Bearer {ApiKey}")
        {
            string token = authorization.StartsWith("Bearer ", StringComparison.Ordinal) ? authorization["Bearer ".Length..] : authorization;
            await Error(context, 401, "invalid_api_key", $"Incorrect API key provided: {token}. You can find your API key in your account settings.");
            return;
        }
        foreach (Match directive in Directive().Matches(prompt))
        {
            string kind = directive.Groups["kind"].Value;
            int times = directive.Groups["n"].Success ? int.Parse(directive.Groups["n"].Value, CultureInfo.InvariantCulture) : int.MaxValue;
            if (attempt > times)
            {
                continue;
            }
            switch (kind)
            {
                case "429":
                    context.Response.Headers["retry-after-ms"] = RetryAfterMs.ToString(CultureInfo.InvariantCulture);
                    context.Response.Headers.RetryAfter = ((RetryAfterMs + 999) / 1000).ToString(CultureInfo.InvariantCulture);
                    await Error(context, 429, "rate_limit_exceeded", "Rate limit reached; try again later.");
                    return;
                case "500":
                    await Error(context, 500, "server_error", "The server had an error.");
                    return;
                case "400":
                    await Error(context, 400, "invalid_request_error", "This model's maximum context length is exceeded.");
                    return;
                case "401":
                    await Error(context, 401, "invalid_api_key", $"Incorrect API key provided. Request headers: Authorization: {authorization}");
                    return;
                case "403":
                    await Error(context, 403, "unsupported_country_region_territory", "Country, region, or territory not supported.");
                    return;
                case "502":
                    context.Response.StatusCode = 502;
                    context.Response.ContentType = "text/html";
                    await context.Response.WriteAsync("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>");
                    return;
                case "html":
                    context.Response.StatusCode = 200;
                    context.Response.ContentType = "text/html";
                    await context.Response.WriteAsync("<!DOCTYPE html><html><body>Please sign in to continue.</body></html>");
                    return;
                case "incomplete":
                    context.Response.StatusCode = 200;
                    context.Response.ContentType = "application/json";
                    await context.Response.WriteAsync("{}");
                    return;
                case "hang":
                    try
                    {
                        await Task.Delay(HangFor, context.RequestAborted);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                    return;
                case "drop":
                    byte[] start = Encoding.UTF8.GetBytes("{\"id\":\"chatcmpl-drop\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,");
                    context.Response.StatusCode = 200;
                    context.Response.ContentType = "application/json";
                    context.Response.ContentLength = 4096;
                    await context.Response.Body.WriteAsync(start);
                    await context.Response.Body.FlushAsync();
                    context.Abort();
                    return;
                case "malformed":
                    context.Response.StatusCode = 200;
                    context.Response.ContentType = "application/json";
                    await context.Response.WriteAsync("{\"id\":\"chatcmpl-bad\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"tru");
                    return;
                default:
                    throw new InvalidOperationException(kind);
            }
        }
        if (AnswerDelay > TimeSpan.Zero)
        {
            await Task.Delay(AnswerDelay, context.RequestAborted);
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(Answer(model, messages, prompt, logprobs, topLogprobs, maxTokens).ToJsonString());
    }

    /// <summary>The answer's words, as the server tokenises them ("The", " answer", …).</summary>
    public static IReadOnlyList<string> AnswerTokens(string prompt)
    {
        int number = (int)(StableHash(prompt) % 1000);
        string text = $"The answer to '{Directive().Replace(prompt, "").Trim()}' is {number}.";
        var tokens = new List<string>();
        foreach (Match m in TokenPattern().Matches(text))
        {
            tokens.Add(m.Value);
        }
        return tokens;
    }

    public static int PromptTokens(JsonArray messages) =>
        messages.Sum(m => Encoding.UTF8.GetByteCount((string?)m!["content"] ?? "") / 4 + 1);

    private static JsonObject Answer(string model, JsonArray messages, string prompt, bool logprobs, int top, int? maxTokens)
    {
        IReadOnlyList<string> tokens = AnswerTokens(prompt);
        string finish = "stop";
        if (maxTokens is { } max && tokens.Count > max)
        {
            tokens = tokens.Take(max).ToList();
            finish = "length";
        }
        var choice = new JsonObject
        {
            ["index"] = 0,
            ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = string.Concat(tokens) },
            ["finish_reason"] = finish,
        };
        if (logprobs)
        {
            var content = new JsonArray();
            foreach (string token in tokens)
            {
                double lp = TokenLogprob(token);
                var alternatives = new JsonArray();
                for (int j = 0; j < top; j++)
                {
                    string alt = j == 0 ? token : $"{token.Trim()}~{j}";
                    alternatives.Add(new JsonObject { ["token"] = alt, ["logprob"] = j == 0 ? lp : lp - j, ["bytes"] = Bytes(alt) });
                }
                content.Add(new JsonObject { ["token"] = token, ["logprob"] = lp, ["bytes"] = Bytes(token), ["top_logprobs"] = alternatives });
            }
            choice["logprobs"] = new JsonObject { ["content"] = content, ["refusal"] = null };
        }
        int promptTokens = PromptTokens(messages);
        return new JsonObject
        {
            ["id"] = "chatcmpl-" + StableHash(prompt).ToString("x", CultureInfo.InvariantCulture),
            ["object"] = "chat.completion",
            ["created"] = 1_760_000_000,
            ["model"] = model,
            ["choices"] = new JsonArray(choice),
            ["usage"] = new JsonObject { ["prompt_tokens"] = promptTokens, ["completion_tokens"] = tokens.Count, ["total_tokens"] = promptTokens + tokens.Count },
        };
    }

    public static double TokenLogprob(string token) => -0.05 - StableHash(token) % 200 / 100.0;

    private static JsonArray Bytes(string token) => new([.. Encoding.UTF8.GetBytes(token).Select(b => (JsonNode)(int)b)]);

    private static async Task Error(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new { error = new { message, type = code, code } }));
    }

    private static ulong StableHash(string s)
    {
        ulong h = 14695981039346656037;
        foreach (char c in s)
        {
            h = (h ^ c) * 1099511628211;
        }
        return h;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    [GeneratedRegex(@"#(?<kind>429|500|502|400|401|403|hang|drop|malformed|html|incomplete)(x(?<n>\d+))?")]
    private static partial Regex Directive();

    [GeneratedRegex(@"\s*\S+")]
    private static partial Regex TokenPattern();
}

internal sealed record ServerRequest(string Prompt, int Attempt, string Authorization, DateTimeOffset At, string Body);
