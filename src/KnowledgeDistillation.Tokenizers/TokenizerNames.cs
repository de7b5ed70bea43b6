namespace KnowledgeDistillation.Tokenizers;

/// <summary>The names of the Tiktoken encodings this package carries (their data comes with it, nothing is downloaded).</summary>
public static class TokenizerNames
{
    /// <summary>The GPT-4 / GPT-3.5 encoding.</summary>
    public const string Cl100kBase = "cl100k_base";

    /// <summary>The GPT-4o encoding.</summary>
    public const string O200kBase = "o200k_base";

    /// <summary>The GPT-2 encoding.</summary>
    public const string Gpt2 = "gpt2";
}
