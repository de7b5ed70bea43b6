namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>Why a run ended.</summary>
public enum GenerationStopReason
{
    /// <summary>Every prompt has a record (or failed transiently: see <see cref="GenerationProgress.TransientFailures"/>).</summary>
    Completed,

    /// <summary>The next request could have taken the run past its budget; prompts were left for a later run.</summary>
    BudgetReached,

    /// <summary>
    /// No prompt got an answer, or more than <see cref="GenerationOptions.MaxFailureRate"/> of the prompts tried
    /// failed (see <see cref="GenerationSummary.FailureKinds"/> and <see cref="GenerationSummary.LastFailure"/> for why).
    /// </summary>
    TooManyFailures,
}

/// <summary>The result of a run.</summary>
/// <param name="StopReason">Why it ended.</param>
/// <param name="Final">The counts at the end.</param>
/// <param name="NotStarted">Prompts left without a record because of the budget; a rerun (with a larger budget) does them.</param>
/// <param name="RepairedBytes">Bytes of a torn last line removed from the output when the run started.</param>
/// <param name="InvalidLines">Prompts-file lines skipped.</param>
/// <param name="OutputPath">The output file.</param>
public sealed record GenerationSummary(GenerationStopReason StopReason, GenerationProgress Final, int NotStarted, long RepairedBytes, IReadOnlyList<InvalidPromptLine> InvalidLines, string OutputPath)
{
    /// <summary>Prompts this run tried to answer: records written (answers and error records) and prompts left without a record by transient failures.</summary>
    public int Attempted => Final.Written + Final.TransientFailures;

    /// <summary>Prompts of this run without an answer: error records and transient failures.</summary>
    public int Failed => Final.PermanentErrors + Final.TransientFailures;

    /// <summary>Prompts that got an answer in this run (from the model or the cache).</summary>
    public int Answered => Final.Written - Final.PermanentErrors;

    /// <summary><see cref="Failed"/> / <see cref="Attempted"/>; 0 when nothing was attempted.</summary>
    public double FailureRate => Attempted == 0 ? 0 : Failed / (double)Attempted;

    /// <summary>Failed prompts by kind of their last failure (<c>connection</c>, <c>timeout</c>, <c>malformed_response</c>, <c>http_502</c>, <c>http_400</c>…).</summary>
    public IReadOnlyDictionary<string, int> FailureKinds { get; init; } = new Dictionary<string, int>();

    /// <summary>The last failure's description (redacted), or null when nothing failed.</summary>
    public string? LastFailure { get; init; }

    /// <summary>Prompts whose error record was tried again (<see cref="GenerationOptions.RetryErrorRecords"/>).</summary>
    public int RetriedErrorRecords { get; init; }

    /// <summary>The shard generated, or null for all prompts.</summary>
    public PromptShard? Shard { get; init; }
}
