using KnowledgeDistillation.Extensions.AI.Teachers;
using Microsoft.Extensions.AI;

namespace KnowledgeDistillation.Extensions.AI.Tests;

public sealed class RetryPolicyTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("250", "7", 250)]          // retry-after-ms wins
    [InlineData(null, "7", 7000)]          // delay-seconds
    [InlineData(null, "Sun, 01 Mar 2026 12:00:03 GMT", 3000)]   // HTTP-date
    [InlineData(null, "Sun, 01 Mar 2026 11:59:00 GMT", 0)]      // in the past: retry now
    public void RetryAfter_IsParsed(string? ms, string? header, double expectedMs)
        => FailureClassifier.ParseRetryAfter(ms, header, Now)!.Value.TotalMilliseconds.Should().Be(expectedMs);

    [Theory]
    [InlineData(null, null)]
    [InlineData(null, "soon")]
    [InlineData("-5", "x")]
    public void RetryAfter_Unusable_IsNull(string? ms, string? header) => FailureClassifier.ParseRetryAfter(ms, header, Now).Should().BeNull();

    [Theory]
    [InlineData(429, true, false)]
    [InlineData(408, true, false)]
    [InlineData(500, true, false)]
    [InlineData(502, true, false)]
    [InlineData(503, true, false)]
    [InlineData(400, false, false)]
    [InlineData(401, false, true)]
    [InlineData(403, false, true)]
    [InlineData(404, false, false)]
    [InlineData(422, false, false)]
    public void Status_IsTransientPermanentOrAuthentication(int status, bool transient, bool authentication)
    {
        FailureClassifier.FromStatus(status, TimeSpan.FromSeconds(1)).IsTransient.Should().Be(transient);
        FailureClassifier.FromStatus(status, null).IsAuthentication.Should().Be(authentication);
        FailureClassifier.Classify(new HttpRequestException("x", null, (System.Net.HttpStatusCode)status)).IsTransient.Should().Be(transient);
    }

    [Fact]
    public void Connection_Timeout_MalformedJson_AndUnrecognisedReplies_AreTransient_SoNeverRecordedAsAnAnswer()
    {
        FailureClassifier.Classify(new InvalidOperationException("wrapped", new IOException("reset"))).Kind.Should().Be("connection");
        FailureClassifier.Classify(new TimeoutException()).Kind.Should().Be("timeout");
        FailureClassifier.Classify(new System.Text.Json.JsonException()).Kind.Should().Be("malformed_response");
        // What the OpenAI client throws for a 200 whose body is {} or a JSON array: no status, nothing about the prompt.
        Failure empty = FailureClassifier.Classify(new ArgumentOutOfRangeException("index"));
        empty.IsTransient.Should().BeTrue();
        empty.Kind.Should().Be("malformed_response");
        FailureClassifier.Classify(new InvalidOperationException("?")).IsTransient.Should().BeTrue();
    }

    [Fact]
    public void BackOff_IsJitteredExponential_CappedByMaxDelay_AndRetryAfterWins()
    {
        var teacher = new ChatClientTeacher(new NullChatClient(), new ChatClientTeacherOptions
        {
            Retry = new RetryOptions { BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromMilliseconds(1000) },
        });
        double[] third = [.. Enumerable.Range(0, 400).Select(_ => teacher.NextDelay(3, null).TotalMilliseconds)];
        third.Should().OnlyContain(d => d >= 0 && d <= 400);
        third.Max().Should().BeGreaterThan(300, "full jitter spreads over [0, base·2^(n-1)]");
        third.Min().Should().BeLessThan(100);
        Enumerable.Range(0, 50).Select(_ => teacher.NextDelay(20, null).TotalMilliseconds).Should().OnlyContain(d => d <= 1000);
        teacher.NextDelay(1, TimeSpan.FromMilliseconds(700)).Should().Be(TimeSpan.FromMilliseconds(700));
        teacher.NextDelay(1, TimeSpan.FromMinutes(5)).Should().Be(TimeSpan.FromMilliseconds(1000));
    }

    private sealed class NullChatClient : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
