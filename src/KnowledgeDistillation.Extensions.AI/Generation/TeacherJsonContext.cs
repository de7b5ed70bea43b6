using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>Source-generated JSON for records and cache entries (snake_case, compact, one line each).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = false)]
[JsonSerializable(typeof(TeacherRecord))]
[JsonSerializable(typeof(CachedAnswer))]
internal sealed partial class TeacherJsonContext : JsonSerializerContext;

/// <summary>The JSON context used for files.</summary>
internal static class TeacherJson
{
    /// <summary>
    /// Text is written as UTF-8 as it is: the default encoder would turn every apostrophe and every non-ASCII character
    /// of an answer into \uXXXX, which bloats and obscures multilingual data. The files are data, never embedded in HTML.
    /// (A separate class, so that it is initialised after the generated <see cref="TeacherJsonContext.Default"/>.)
    /// </summary>
    public static TeacherJsonContext Files { get; } = new(new JsonSerializerOptions(TeacherJsonContext.Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
