using BenchmarkDotNet.Attributes;
using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Benchmarks;

/// <summary>Harness check: a trivial benchmark so the project runs before the kernel benchmarks exist.</summary>
[MemoryDiagnoser]
public class EnvironmentBenchmarks
{
    [Benchmark]
    public int PreferredVectorBits() => KernelCapabilities.PreferredVectorBits;
}
