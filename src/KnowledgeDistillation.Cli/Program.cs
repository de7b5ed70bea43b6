using System.CommandLine;
using KnowledgeDistillation.Cli.Commands;

var root = new RootCommand("kd: knowledge distillation for .NET. Train a small student from a large teacher, measured against the same student trained alone.");
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(DistillCommand.Create());
root.Subcommands.Add(DistillLmCommand.Create());
root.Subcommands.Add(CacheTeacherCommand.Create());
root.Subcommands.Add(ExportCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(GenerateMergeCommand.Create());
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
