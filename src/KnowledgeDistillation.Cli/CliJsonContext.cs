using System.Text.Json.Serialization;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Cli.Distill;

namespace KnowledgeDistillation.Cli;

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(EnvironmentInfo))]
[JsonSerializable(typeof(DistillReport))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
