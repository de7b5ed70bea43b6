namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>Options of a <see cref="TeacherDataGenerator"/> run. Validated when the generator is created.</summary>
public sealed class GenerationOptions
{
    /// <summary>Requests in flight at once.</summary>
    /// <value>The default value is 4.</value>
    public int MaxConcurrency { get; set; } = 4;

    /// <summary>
    /// The most the run may spend, in the price table's currency; null for no cap. The run never starts a request
    /// whose worst case (see <see cref="Teachers.ChatClientTeacher.GetUpperBound"/>) could take the total past this,
    /// and stops cleanly when the next one would. Needs a price for the model and <c>MaxOutputTokens</c>.
    /// </summary>
    /// <value>The default value is null.</value>
    public decimal? MaxCost { get; set; }

    /// <summary>The most tokens (input plus output) the run may use; null for no cap. Same rule as <see cref="MaxCost"/>.</summary>
    /// <value>The default value is null.</value>
    public long? MaxTotalTokens { get; set; }

    /// <summary>What to do with invalid lines of a prompts file.</summary>
    /// <value>The default value is <see cref="InvalidPromptLinePolicy.Stop"/>.</value>
    public InvalidPromptLinePolicy InvalidLines { get; set; } = InvalidPromptLinePolicy.Stop;

    /// <summary>
    /// Whether records are also flushed to the disk (fsync), not only to the operating system, before they count as
    /// written. Records that complete together share one fsync. Records flushed to the operating system already survive
    /// a crash or kill of the process; the fsync also covers a power loss or an operating-system crash.
    /// </summary>
    /// <value>The default value is true.</value>
    public bool FlushToDisk { get; set; } = true;

    internal void Validate()
    {
        if (MaxConcurrency is < 1 or > 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrency), MaxConcurrency, "GenerationOptions.MaxConcurrency must be between 1 and 1024.");
        }
        if (MaxCost is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxCost), MaxCost, "GenerationOptions.MaxCost (the budget) must be zero or positive; leave it null for no budget.");
        }
        if (MaxTotalTokens is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxTotalTokens), MaxTotalTokens, "GenerationOptions.MaxTotalTokens (the token budget) must be zero or positive; leave it null for no budget.");
        }
    }
}
