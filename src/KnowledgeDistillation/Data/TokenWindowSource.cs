using System.Globalization;

namespace KnowledgeDistillation.Data;

/// <summary>
/// Next-token training or evaluation data cut from a <see cref="TokenStream"/>: either random windows (training: each
/// epoch draws <see cref="Count"/> windows) or consecutive windows that predict every token once (evaluation, perplexity).
/// </summary>
/// <remarks>
/// Random windows come from one stream of draws seeded by the run's seed; epoch <c>e</c> continues where epoch <c>e − 1</c>
/// ended (a resumed run fast-forwards the draws), so the windows of a run do not depend on how it was split into epochs
/// or interrupted.
/// </remarks>
public sealed class TokenWindowSource : IBatchSource<TokenBatch>
{
    private readonly TokenStream _tokens;
    private readonly bool _random;
    private readonly int _padding;

    private TokenWindowSource(TokenStream tokens, int sequenceLength, int vocabularySize, bool random, int count, int padding)
    {
        _tokens = tokens;
        SequenceLength = sequenceLength;
        ClassCount = vocabularySize;
        _random = random;
        Count = count;
        _padding = padding;
        SampleShape = [sequenceLength];
    }

    /// <summary>Random windows for training: <paramref name="windowsPerEpoch"/> windows of <paramref name="sequenceLength"/> tokens per epoch.</summary>
    /// <param name="tokens">The training tokens.</param>
    /// <param name="sequenceLength">Tokens per window, in [1, tokens).</param>
    /// <param name="vocabularySize">Ids the tokenizer can produce; every token must be below it.</param>
    /// <param name="windowsPerEpoch">Windows per epoch (for example steps per epoch × batch size), ≥ 1.</param>
    /// <exception cref="ArgumentException">A token id is outside [0, vocabularySize), or a size is out of range (the message names it).</exception>
    public static TokenWindowSource Random(TokenStream tokens, int sequenceLength, int vocabularySize, int windowsPerEpoch)
    {
        Check(tokens, sequenceLength, vocabularySize);
        if (windowsPerEpoch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(windowsPerEpoch), windowsPerEpoch, "windowsPerEpoch must be ≥ 1.");
        }
        return new TokenWindowSource(tokens, sequenceLength, vocabularySize, random: true, windowsPerEpoch, padding: 0);
    }

    /// <summary>Consecutive windows covering the stream once (each token predicted once), for evaluation; the last window is padded with <paramref name="padding"/> and masked.</summary>
    /// <exception cref="ArgumentException">A token id is outside [0, vocabularySize), or a size is out of range (the message names it).</exception>
    public static TokenWindowSource Sequential(TokenStream tokens, int sequenceLength, int vocabularySize, int padding)
    {
        Check(tokens, sequenceLength, vocabularySize);
        if ((uint)padding >= (uint)vocabularySize)
        {
            throw new ArgumentOutOfRangeException(nameof(padding), padding, $"The padding id must be in [0, {vocabularySize}).");
        }
        int windows = (tokens.Count - 1 + sequenceLength - 1) / sequenceLength;
        return new TokenWindowSource(tokens, sequenceLength, vocabularySize, random: false, windows, padding);
    }

    /// <summary>Tokens per window.</summary>
    public int SequenceLength { get; }

    /// <summary>The underlying tokens.</summary>
    public TokenStream Tokens => _tokens;

    /// <inheritdoc />
    public int Count { get; }

    /// <inheritdoc />
    public int ClassCount { get; }

    /// <inheritdoc />
    public IReadOnlyList<int> SampleShape { get; }

    /// <inheritdoc />
    /// <remarks>Random windows are drawn whatever <paramref name="shuffle"/> says; consecutive windows ignore the seed.</remarks>
    public IEnumerable<TokenBatch> GetBatches(int batchSize, bool shuffle, int seed, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        return _random ? RandomBatches(batchSize, seed, epoch) : _tokens.Sequential(batchSize, SequenceLength, _padding);
    }

    private IEnumerable<TokenBatch> RandomBatches(int batchSize, int seed, int epoch)
    {
        var random = new Random(seed);
        int range = _tokens.Count - SequenceLength;
        for (long skip = (long)epoch * Count; skip > 0; skip--)
        {
            random.Next(range);
        }
        for (int done = 0; done < Count; done += batchSize)
        {
            yield return _tokens.Sample(random, Math.Min(batchSize, Count - done), SequenceLength);
        }
    }

    private static void Check(TokenStream tokens, int sequenceLength, int vocabularySize)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 1);
        if (sequenceLength < 1 || sequenceLength >= tokens.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(sequenceLength), sequenceLength, string.Create(CultureInfo.InvariantCulture,
                $"sequenceLength must be in [1, {tokens.Count}): the text has {tokens.Count} tokens; give more text or a shorter sequence length."));
        }
        ReadOnlySpan<int> ids = tokens.Tokens;
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)vocabularySize)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Token {i} has id {ids[i]}, outside the vocabulary [0, {vocabularySize})."), nameof(tokens));
            }
        }
    }
}
