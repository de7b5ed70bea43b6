using System.Globalization;

namespace KnowledgeDistillation.Data;

/// <summary>
/// A stream of token ids (documents joined by their end-of-sequence tokens) cut into fixed-length next-token windows:
/// random windows for training, consecutive non-overlapping windows for evaluation.
/// </summary>
public sealed class TokenStream
{
    private readonly int[] _tokens;

    /// <summary>Wraps <paramref name="tokens"/> (not copied).</summary>
    public TokenStream(int[] tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        _tokens = tokens;
    }

    /// <summary>The number of tokens.</summary>
    public int Count => _tokens.Length;

    /// <summary>The tokens.</summary>
    public ReadOnlySpan<int> Tokens => _tokens;

    /// <summary>Joins documents into one stream, each followed by <paramref name="separator"/>.</summary>
    public static TokenStream FromDocuments(IEnumerable<int[]> documents, int separator)
    {
        ArgumentNullException.ThrowIfNull(documents);
        var all = new List<int>();
        foreach (int[] document in documents)
        {
            all.AddRange(document);
            all.Add(separator);
        }

        return new TokenStream(all.ToArray());
    }

    /// <summary><paramref name="batchSize"/> windows at random offsets; every target counts.</summary>
    public TokenBatch Sample(Random random, int batchSize, int sequenceLength)
    {
        ArgumentNullException.ThrowIfNull(random);
        Check(batchSize, sequenceLength);
        var inputs = new int[batchSize * sequenceLength];
        var targets = new int[batchSize * sequenceLength];
        for (int b = 0; b < batchSize; b++)
        {
            int start = random.Next(_tokens.Length - sequenceLength);
            _tokens.AsSpan(start, sequenceLength).CopyTo(inputs.AsSpan(b * sequenceLength));
            _tokens.AsSpan(start + 1, sequenceLength).CopyTo(targets.AsSpan(b * sequenceLength));
        }

        return new TokenBatch(inputs, targets, Enumerable.Repeat(true, inputs.Length).ToArray(), batchSize, sequenceLength);
    }

    /// <summary>
    /// Consecutive windows covering the stream once (each target token predicted once); the last batch is padded with
    /// <paramref name="padding"/> and masked out, so every token counts exactly once in a perplexity.
    /// </summary>
    public IEnumerable<TokenBatch> Sequential(int batchSize, int sequenceLength, int padding)
    {
        Check(batchSize, sequenceLength);
        int predicted = _tokens.Length - 1;
        int windows = (predicted + sequenceLength - 1) / sequenceLength;
        for (int first = 0; first < windows; first += batchSize)
        {
            int rows = Math.Min(batchSize, windows - first);
            var inputs = new int[rows * sequenceLength];
            var targets = new int[rows * sequenceLength];
            var mask = new bool[rows * sequenceLength];
            for (int r = 0; r < rows; r++)
            {
                int start = (first + r) * sequenceLength;
                for (int p = 0; p < sequenceLength; p++)
                {
                    int at = start + p;
                    bool valid = at < predicted;
                    inputs[(r * sequenceLength) + p] = valid ? _tokens[at] : padding;
                    targets[(r * sequenceLength) + p] = valid ? _tokens[at + 1] : padding;
                    mask[(r * sequenceLength) + p] = valid;
                }
            }

            yield return new TokenBatch(inputs, targets, mask, rows, sequenceLength);
        }
    }

    private void Check(int batchSize, int sequenceLength)
    {
        if (batchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be ≥ 1.");
        }

        if (sequenceLength < 1 || sequenceLength >= _tokens.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(sequenceLength), sequenceLength, string.Create(CultureInfo.InvariantCulture, $"sequenceLength must be in [1, {_tokens.Length}) for a stream of {_tokens.Length} tokens."));
        }
    }
}
