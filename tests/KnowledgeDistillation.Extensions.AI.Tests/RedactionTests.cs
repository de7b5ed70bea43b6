using KnowledgeDistillation.Extensions.AI.Teachers;

namespace KnowledgeDistillation.Extensions.AI.Tests;

public sealed class RedactionTests
{
    [Theory]
    [InlineData("Incorrect API key provided: sk-live-123456.", "Incorrect API key provided: [redacted].")]
    [InlineData("{\"auth\":\"Bearer sk-live-123456\"}", "{\"auth\":\"Bearer [redacted]\"}")]
    [InlineData("authorization: bearer abc.def-ghi_jkl==", "authorization: bearer [redacted]")]
    [InlineData("x-api-key: other-secret; next", "x-api-key: [redacted]; next")]
    [InlineData("GET /v1?api_key=zzz&x=1", "GET /v1?api_key=[redacted]&x=1")]
    [InlineData("HTTP 401 (invalid_api_key: invalid_api_key)", "HTTP 401 (invalid_api_key: invalid_api_key)")]
    [InlineData("url-escaped sk-live%2F123456 too", "url-escaped [redacted] too")]
    public void Redact_MasksConfiguredSecrets_BearerTokens_AndApiKeyValues(string text, string expected)
    {
        var redactor = new SecretRedactor(["sk-live-123456", "sk-live/123456", null, ""]);
        redactor.Redact(text).Should().Be(expected);
    }

    [Fact]
    public void Redact_Exception_CopiesAChainThatLeaks_KeepsOneThatDoesNot()
    {
        var redactor = new SecretRedactor(["s3cret-key"]);
        var clean = new InvalidOperationException("nothing to hide");
        redactor.Redact(clean).Should().BeSameAs(clean);

        var leaky = new InvalidOperationException("outer", new IOException("server said: s3cret-key"));
        Exception copy = redactor.Redact(leaky)!;
        copy.ToString().Should().NotContain("s3cret-key").And.Contain("System.IO.IOException: server said: [redacted]");
    }
}
