namespace KnowledgeDistillation.Text;

/// <summary>Turns text into token ids and back. Implementations are immutable and thread-safe.</summary>
public interface ITextTokenizer
{
    /// <summary>
    /// Identifies the vocabulary: two tokenizers with the same name map the same text to the same ids. Token-level
    /// distillation compares it between teacher and student and refuses different tokenizers unless a token mapping is given.
    /// </summary>
    string Name { get; }

    /// <summary>The number of token ids, including special tokens.</summary>
    int VocabularySize { get; }

    /// <summary>The begin-of-sequence id.</summary>
    int BeginOfSequence { get; }

    /// <summary>The end-of-sequence id.</summary>
    int EndOfSequence { get; }

    /// <summary>The padding id.</summary>
    int Padding { get; }

    /// <summary>Encodes <paramref name="text"/> (no special tokens added).</summary>
    int[] Encode(string text);

    /// <summary>Decodes ids back to text; special tokens are skipped.</summary>
    string Decode(ReadOnlySpan<int> tokens);
}
