using System.Text.Json.Serialization;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Cli.Distill;
using KnowledgeDistillation.Cli.Onnx;

namespace KnowledgeDistillation.Cli;

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(EnvironmentInfo))]
[JsonSerializable(typeof(DistillReport))]
[JsonSerializable(typeof(StudentRecord))]
[JsonSerializable(typeof(DistillLmReport))]
[JsonSerializable(typeof(ExportReport))]
[JsonSerializable(typeof(EvalReport))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
