using System.Globalization;
using System.Text;

namespace KnowledgeDistillation.Text;

/// <summary>
/// A byte-level tokenizer: the UTF-8 bytes of the text are the ids 0–255, followed by three special tokens (begin,
/// end, padding); 259 ids in all. Lossless for any text, no vocabulary file, and small enough that a tiny language model's
/// output layer costs little, which is what the tests and the CPU demo need.
/// </summary>
public sealed class ByteTokenizer : ITextTokenizer
{
    /// <summary>The shared instance.</summary>
    public static ByteTokenizer Instance { get; } = new();

    /// <inheritdoc />
    public string Name => "bytes-utf8-259";

    /// <inheritdoc />
    public int VocabularySize => 259;

    /// <inheritdoc />
    public int BeginOfSequence => 256;

    /// <inheritdoc />
    public int EndOfSequence => 257;

    /// <inheritdoc />
    public int Padding => 258;

    /// <inheritdoc />
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            ids[i] = bytes[i];
        }

        return ids;
    }

    /// <inheritdoc />
    public string Decode(ReadOnlySpan<int> tokens)
    {
        var bytes = new List<byte>(tokens.Length);
        foreach (int id in tokens)
        {
            if ((uint)id >= (uint)VocabularySize)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), id, string.Create(CultureInfo.InvariantCulture, $"Token id {id} is outside [0, {VocabularySize})."));
            }

            if (id < 256)
            {
                bytes.Add((byte)id);
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
