using KnowledgeDistillation.Extensions.AI.Generation;

namespace KnowledgeDistillation.Extensions.AI.Tests;

/// <summary>Progress that runs the callback on the reporting thread (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SyncProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
{
    private readonly Lock _lock = new();

    public void Report(GenerationProgress value)
    {
        lock (_lock)
        {
            report(value);
        }
    }
}
