using System.Text.Json.Serialization;
using KnowledgeDistillation.Cli.Commands;

namespace KnowledgeDistillation.Cli;

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(EnvironmentInfo))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
