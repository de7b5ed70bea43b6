using BenchmarkDotNet.Running;

// Run all benchmarks, or a subset: dotnet run -c Release --project benchmarks/KnowledgeDistillation.Benchmarks -- --filter '*Kernel*' --job short
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
