namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>Where a run stands, reported after every prompt.</summary>
public sealed record GenerationProgress
{
    /// <summary>Prompts in the input, when known (a file's count; null for a stream).</summary>
    public int? Total { get; init; }

    /// <summary>Prompts that already had a record in the output when the run started (skipped).</summary>
    public int AlreadyDone { get; init; }

    /// <summary>Records written by this run: answers (from the model or the cache) and permanent errors.</summary>
    public int Written { get; init; }

    /// <summary>Answers served from the cache (they cost nothing).</summary>
    public int CacheHits { get; init; }

    /// <summary>Prompts recorded with a permanent error.</summary>
    public int PermanentErrors { get; init; }

    /// <summary>Prompts whose transient errors outlasted the retries: no record, so a rerun tries them again.</summary>
    public int TransientFailures { get; init; }

    /// <summary>HTTP requests made (retries included).</summary>
    public int Requests { get; init; }

    /// <summary>Retries made.</summary>
    public int Retries { get; init; }

    /// <summary>Input tokens used by this run (cache hits excluded).</summary>
    public long InputTokens { get; init; }

    /// <summary>Output tokens used by this run (cache hits excluded).</summary>
    public long OutputTokens { get; init; }

    /// <summary>What this run spent, in <see cref="Currency"/>.</summary>
    public decimal Cost { get; init; }

    /// <summary>The price table's currency.</summary>
    public string Currency { get; init; } = "USD";

    /// <summary>Time since the run started.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Estimated time to finish, from this run's pace; null while unknown.</summary>
    public TimeSpan? EstimatedRemaining { get; init; }

    /// <summary>Prompts finished (already done, written, or failed) out of <see cref="Total"/>.</summary>
    public int Finished => AlreadyDone + Written + TransientFailures;
}
