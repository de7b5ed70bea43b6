namespace KnowledgeDistillation.Tokenizers.Tests;

public sealed class TokenizerNamesTests
{
    [Fact]
    public void EncodingNames_AreTiktokensOwn()
    {
        new[] { TokenizerNames.Cl100kBase, TokenizerNames.O200kBase, TokenizerNames.Gpt2 }.Should().Equal("cl100k_base", "o200k_base", "gpt2");
    }
}
