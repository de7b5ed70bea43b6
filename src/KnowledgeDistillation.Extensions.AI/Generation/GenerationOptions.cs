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

    /// <summary>
    /// The most failures a run may have and still count as done: failed prompts (no answer after the retries, or an
    /// error record) divided by the prompts this run tried to answer. Above it, or when no prompt got an answer at
    /// all, the run ends with <see cref="GenerationStopReason.TooManyFailures"/>; with a known prompt count it stops
    /// starting prompts as soon as the limit can no longer be met. Between 0 and 1.
    /// </summary>
    /// <value>The default value is 0.5.</value>
    public double MaxFailureRate { get; set; } = 0.5;

    /// <summary>
    /// Whether prompts whose last record in the output is an error record are tried again. The output stays
    /// append-only: a new record for the prompt is appended and supersedes the error (readers take the last record per
    /// id, see <see cref="TeacherRecordFile.ReadAsync"/>).
    /// </summary>
    /// <value>The default value is false (a prompt with any record is skipped).</value>
    public bool RetryErrorRecords { get; set; }

    /// <summary>
    /// Whether a cache that cannot be reached when the run starts fails the run (<see cref="TeacherCacheUnavailableException"/>)
    /// rather than running without it. Failing is the default because an uncached run pays again for answers the
    /// cache holds. A cache that fails later never stops a run (see <see cref="Teachers.ChatClientTeacherOptions.CacheRetryInterval"/>).
    /// </summary>
    /// <value>The default value is true.</value>
    public bool RequireCache { get; set; } = true;

    /// <summary>Only the prompts of this shard are generated (see <see cref="PromptShard"/>); null for all of them.</summary>
    /// <value>The default value is null.</value>
    public PromptShard? Shard { get; set; }

    internal void Validate()
    {
        if (!(MaxFailureRate >= 0 && MaxFailureRate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxFailureRate), MaxFailureRate, "GenerationOptions.MaxFailureRate must be between 0 and 1 (a fraction of the prompts tried).");
        }
        if (Shard is { } shard)
        {
            try
            {
                shard.Validate();
            }
            catch (FormatException e)
            {
                throw new ArgumentOutOfRangeException(nameof(Shard), shard, "GenerationOptions.Shard: " + e.Message);
            }
        }
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
