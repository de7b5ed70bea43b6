namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>Why a run ended.</summary>
public enum GenerationStopReason
{
    /// <summary>Every prompt has a record (or failed transiently: see <see cref="GenerationProgress.TransientFailures"/>).</summary>
    Completed,

    /// <summary>The next request could have taken the run past its budget; prompts were left for a later run.</summary>
    BudgetReached,
}

/// <summary>The result of a run.</summary>
/// <param name="StopReason">Why it ended.</param>
/// <param name="Final">The counts at the end.</param>
/// <param name="NotStarted">Prompts left without a record because of the budget; a rerun (with a larger budget) does them.</param>
/// <param name="RepairedBytes">Bytes of a torn last line removed from the output when the run started.</param>
/// <param name="InvalidLines">Prompts-file lines skipped.</param>
/// <param name="OutputPath">The output file.</param>
public sealed record GenerationSummary(GenerationStopReason StopReason, GenerationProgress Final, int NotStarted, long RepairedBytes, IReadOnlyList<InvalidPromptLine> InvalidLines, string OutputPath);
