using System.Security.Cryptography;
using System.Text.Json;
using KnowledgeDistillation.Extensions.AI.Teachers;
using Microsoft.Extensions.AI;

namespace KnowledgeDistillation.Extensions.AI.Caching;

/// <summary>
/// The cache key of a request: SHA-256 over a canonical JSON of (model, messages, generation options). Everything
/// that can change the answer is in it; nothing that cannot (prompt id, retries, budget, prices) is.
/// </summary>
internal static class TeacherCacheKey
{
    private const string Version = "kd-teacher-v1";

    public static string Compute(string? model, IReadOnlyList<ChatMessage> messages, ChatClientTeacherOptions options)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("v", Version);
            json.WriteString("model", model);
            json.WritePropertyName("messages");
            JsonSerializer.Serialize(json, messages, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IReadOnlyList<ChatMessage>)));
            json.WriteStartObject("options");
            WriteNullable(json, "temperature", options.Temperature);
            WriteNullable(json, "top_p", options.TopP);
            WriteNullable(json, "max_output_tokens", options.MaxOutputTokens);
            WriteNullable(json, "seed", options.Seed);
            WriteNullable(json, "top_logprobs", options.TopLogProbabilities);
            json.WriteStartArray("stop");
            foreach (string stop in options.StopSequences)
            {
                json.WriteStringValue(stop);
            }
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return "kd:teacher:" + Convert.ToHexStringLower(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, v);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
