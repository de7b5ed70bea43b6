using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using OpenAI;

namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>
/// Creates an <see cref="IChatClient"/> for an OpenAI-compatible endpoint (OpenAI, Azure OpenAI's v1 endpoint, vLLM,
/// llama.cpp server, Ollama, LM Studio…) through the official OpenAI client, set up for use under a
/// <see cref="ChatClientTeacher"/>: the client's own retries are off (the teacher retries, honouring the budget and
/// recording failures) and its network timeout is left to the teacher's per-attempt timeout.
/// </summary>
public static class OpenAICompatibleChatClient
{
    /// <summary>Creates the client.</summary>
    /// <param name="endpoint">The API base, e.g. <c>https://host/v1</c> (requests go to <c>{endpoint}/chat/completions</c>). Must be absolute http or https.</param>
    /// <param name="model">The model name.</param>
    /// <param name="apiKey">The API key, sent as a bearer token and nowhere else (never logged or written). Local servers usually accept any value.</param>
    /// <exception cref="ArgumentException">The endpoint is not an absolute http(s) URL, or the model or key is empty.</exception>
    public static IChatClient Create(Uri endpoint, string model, string apiKey)
    {
        ValidateEndpoint(endpoint);
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        if (string.IsNullOrEmpty(apiKey))
        {
            throw new ArgumentException("The API key is empty: set it in the configuration or an environment variable (kd reads KD_API_KEY, then OPENAI_API_KEY). Local servers accept any non-empty value.", nameof(apiKey));
        }
        var options = new OpenAIClientOptions
        {
            Endpoint = endpoint,
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = Timeout.InfiniteTimeSpan,
        };
        return new OpenAIClient(new ApiKeyCredential(apiKey), options).GetChatClient(model).AsIChatClient();
    }

    /// <summary>Checks that an endpoint is an absolute http or https URL, with a message that says what to pass instead.</summary>
    /// <exception cref="ArgumentException">It is not.</exception>
    public static void ValidateEndpoint(Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"Endpoint '{Redact(endpoint)}' is not an absolute http:// or https:// URL; pass the API base, e.g. http://127.0.0.1:8000/v1.", nameof(endpoint));
        }
        if (!string.IsNullOrEmpty(endpoint.UserInfo))
        {
            throw new ArgumentException($"Endpoint '{Redact(endpoint)}' carries credentials in the URL; pass the key through the API-key setting or environment variable instead, so that it is never logged.", nameof(endpoint));
        }
    }

    /// <summary>The endpoint without user info and query (where credentials may hide), safe to print.</summary>
    public static string Redact(Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!endpoint.IsAbsoluteUri)
        {
            return endpoint.OriginalString;
        }
        var builder = new UriBuilder(endpoint) { UserName = "", Password = "", Query = "", Fragment = "" };
        return builder.Uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);
    }
}
