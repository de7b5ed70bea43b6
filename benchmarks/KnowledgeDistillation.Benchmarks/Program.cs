using BenchmarkDotNet.Running;
using KnowledgeDistillation.Benchmarks;

// Run all benchmarks, or a subset: dotnet run -c Release --project benchmarks/KnowledgeDistillation.Benchmarks -- --filter '*Kernel*' --job short
// In-process by default: TorchSharp finds libtorch through this application's deps.json and the libLibTorchSharp copy
// patched by the build, which the projects BenchmarkDotNet generates for out-of-process runs do not have.
// Not a BenchmarkDotNet run: interleaved epoch timing of scratch / teacher-cache / live-teacher training (docs/benchmarks.md).
if (args.FirstOrDefault() == "cache-epoch")
{
    return await TeacherCacheEpochTiming.RunAsync(args);
}

string[] arguments = args.Any(a => a is "--inProcess" or "-i" or "--outOfProcess") ? args.Where(a => a != "--outOfProcess").ToArray() : [.. args, "--inProcess"];
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(arguments);
return 0;
