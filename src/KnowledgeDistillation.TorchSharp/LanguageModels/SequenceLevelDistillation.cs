using System.Diagnostics;
using KnowledgeDistillation.Data;
using TorchSharp;

namespace KnowledgeDistillation.TorchSharp.LanguageModels;

/// <summary>
/// Sequence-level distillation (Kim &amp; Rush 2016): the teacher writes the training text, and the student is trained on it
/// with plain next-token cross-entropy. This generates that text from prompts taken out of the training data.
/// </summary>
public static class SequenceLevelDistillation
{
    /// <summary>
    /// Samples continuations from <paramref name="teacher"/> until at least <paramref name="tokens"/> tokens are written:
    /// prompts are <paramref name="promptLength"/> tokens at random offsets of <paramref name="prompts"/>, each continued by
    /// <paramref name="newTokens"/> tokens at <paramref name="temperature"/>, <paramref name="rows"/> prompts at a time; every
    /// document is the prompt and its continuation. Deterministic for a given seed.
    /// </summary>
    /// <returns>The generated documents as one token stream, and the time generation took.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, or the prompt text is shorter than a prompt.</exception>
    public static (TokenStream Text, TimeSpan Elapsed) Generate(
        TorchLanguageModel teacher, TokenStream prompts, int tokens, int seed, int promptLength = 8, int newTokens = 64, int rows = 32,
        float temperature = 1f, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(promptLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(newTokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        if (prompts.Count <= promptLength)
        {
            throw new ArgumentOutOfRangeException(nameof(prompts), prompts.Count, $"The prompt text has {prompts.Count} tokens; it needs more than the prompt length {promptLength}.");
        }
        var random = new Random(seed);
        var generator = new torch.Generator((ulong)seed);
        var documents = new List<int>();
        int produced = 0;
        var clock = Stopwatch.StartNew();
        while (produced < tokens)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = new int[rows][];
            for (int r = 0; r < rows; r++)
            {
                int start = random.Next(prompts.Count - promptLength);
                batch[r] = prompts.Tokens.Slice(start, promptLength).ToArray();
            }
            int[][] continuations = teacher.Model.GenerateBatch(batch, newTokens, temperature, generator);
            for (int r = 0; r < rows; r++)
            {
                documents.AddRange(batch[r]);
                documents.AddRange(continuations[r]);
                produced += promptLength + newTokens;
            }
        }
        return (new TokenStream([.. documents]), clock.Elapsed);
    }
}
