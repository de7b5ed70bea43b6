using System.Globalization;

namespace KnowledgeDistillation.TorchSharp.LanguageModels;

/// <summary>The shape of a <see cref="CausalLanguageModel"/>.</summary>
public sealed class CausalLanguageModelOptions
{
    /// <summary>Token ids the model reads and predicts. <value>The default value is 259 (the byte tokenizer).</value></summary>
    public int VocabularySize { get; set; } = 259;

    /// <summary>The longest sequence the model reads (learnt position embeddings). <value>The default value is 128.</value></summary>
    public int ContextLength { get; set; } = 128;

    /// <summary>Transformer blocks. <value>The default value is 2.</value></summary>
    public int Layers { get; set; } = 2;

    /// <summary>Attention heads per block; must divide <see cref="Width"/>. <value>The default value is 4.</value></summary>
    public int Heads { get; set; } = 4;

    /// <summary>The model width d. <value>The default value is 128.</value></summary>
    public int Width { get; set; } = 128;

    /// <summary>The feed-forward width as a multiple of <see cref="Width"/>. <value>The default value is 4.</value></summary>
    public int FeedForwardMultiplier { get; set; } = 4;

    /// <summary>Dropout on attention output, feed-forward output and embeddings. <value>The default value is 0.</value></summary>
    public double Dropout { get; set; }

    /// <summary>The output layer shares the token embedding matrix (fewer parameters, usually better for small models). <value>The default value is true.</value></summary>
    public bool TieEmbeddings { get; set; } = true;

    /// <summary>Checks every value and throws naming the property, its value and the fix.</summary>
    public void Validate()
    {
        Positive(VocabularySize, nameof(VocabularySize));
        Positive(ContextLength, nameof(ContextLength));
        Positive(Layers, nameof(Layers));
        Positive(Heads, nameof(Heads));
        Positive(Width, nameof(Width));
        Positive(FeedForwardMultiplier, nameof(FeedForwardMultiplier));
        if (Width % Heads != 0)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Width ({Width}) must be a multiple of Heads ({Heads}); for example Width = {Heads * Math.Max(1, Width / Heads)}."), nameof(Width));
        }

        if (!(Dropout >= 0 && Dropout < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "Dropout must be in [0, 1).");
        }
    }

    /// <summary>Parses <c>layers=4,heads=4,width=128,context=128[,ff=4][,tied=true][,dropout=0.1]</c>; missing keys keep their defaults.</summary>
    public static CausalLanguageModelOptions Parse(string text, int vocabularySize)
    {
        ArgumentNullException.ThrowIfNull(text);
        var options = new CausalLanguageModelOptions { VocabularySize = vocabularySize };
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2)
            {
                throw new FormatException($"'{part}' in '{text}' is not key=value; expected for example layers=4,heads=4,width=128,context=128.");
            }

            switch (kv[0].ToLowerInvariant())
            {
                case "layers": options.Layers = int.Parse(kv[1], CultureInfo.InvariantCulture); break;
                case "heads": options.Heads = int.Parse(kv[1], CultureInfo.InvariantCulture); break;
                case "width": options.Width = int.Parse(kv[1], CultureInfo.InvariantCulture); break;
                case "context": options.ContextLength = int.Parse(kv[1], CultureInfo.InvariantCulture); break;
                case "ff": options.FeedForwardMultiplier = int.Parse(kv[1], CultureInfo.InvariantCulture); break;
                case "tied": options.TieEmbeddings = bool.Parse(kv[1]); break;
                case "dropout": options.Dropout = double.Parse(kv[1], CultureInfo.InvariantCulture); break;
                default: throw new FormatException($"Unknown key '{kv[0]}' in '{text}'; known: layers, heads, width, context, ff, tied, dropout.");
            }
        }

        options.Validate();
        return options;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"layers={Layers},heads={Heads},width={Width},context={ContextLength},ff={FeedForwardMultiplier},tied={TieEmbeddings},dropout={Dropout}");

    private static void Positive(int value, string name)
    {
        if (value < 1)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be ≥ 1.");
        }
    }
}
