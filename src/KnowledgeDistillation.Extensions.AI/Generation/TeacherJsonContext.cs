using System.Text.Json.Serialization;

namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>Source-generated JSON for records, cache entries and prompt lines (snake_case, compact, one line each).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = false)]
[JsonSerializable(typeof(TeacherRecord))]
[JsonSerializable(typeof(CachedAnswer))]
internal sealed partial class TeacherJsonContext : JsonSerializerContext;
