using KnowledgeDistillation.Extensions.AI.Generation;

namespace KnowledgeDistillation.Extensions.AI.Tests;

public sealed class PromptFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-prompts-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<PromptFileContents> Read(params string[] lines)
    {
        string path = Path.Combine(_dir, $"{Guid.NewGuid():N}.jsonl");
        await File.WriteAllLinesAsync(path, lines);
        return await PromptFile.ReadAsync(path);
    }

    [Fact]
    public async Task IdsWithoutAnIdField_AreStableContentHashes_AndRepeatsAreNumbered()
    {
        PromptFileContents a = await Read("{\"prompt\": \"hello\"}", "{\"prompt\": \"world\"}", "{\"prompt\": \"hello\"}");
        PromptFileContents b = await Read("{\"prompt\": \"world\"}", "{\"prompt\": \"hello\"}", "{\"prompt\": \"hello\"}");

        a.Prompts.Select(p => p.Id).Should().OnlyHaveUniqueItems();
        a.Prompts[0].Id.Should().MatchRegex("^p-[0-9a-f]{16}$");
        a.Prompts[2].Id.Should().Be(a.Prompts[0].Id + "-2");
        b.Prompts[0].Id.Should().Be(a.Prompts[1].Id, "the id depends on the content, not the line");
        b.Prompts[1].Id.Should().Be(a.Prompts[0].Id);
    }

    [Fact]
    public async Task MessagesSystemAndNumericIds_AreRead()
    {
        PromptFileContents c = await Read(
            "{\"id\": 7, \"system\": \"be terse\", \"prompt\": \"hi\"}",
            "{\"id\": \"conv\", \"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}, {\"role\": \"user\", \"content\": \"c\"}]}");

        c.Prompts[0].Id.Should().Be("7");
        c.Prompts[0].Messages.Select(m => (m.Role.Value, m.Text)).Should().Equal(("system", "be terse"), ("user", "hi"));
        c.Prompts[1].Messages.Select(m => m.Role.Value).Should().Equal("user", "assistant", "user");
    }

    [Theory]
    [InlineData("{\"prompt\": 5}", "\"prompt\" must be a non-empty string")]
    [InlineData("{\"prompt\": \"a\", \"messages\": []}", "not both")]
    [InlineData("{\"text\": \"a\"}", "missing \"prompt\"")]
    [InlineData("{\"id\": true, \"prompt\": \"a\"}", "\"id\" must be")]
    [InlineData("{\"messages\": [{\"role\": \"user\"}]}", "messages[0]")]
    [InlineData("\"just a string\"", "expected a JSON object")]
    public async Task InvalidLines_SayWhatIsWrong(string line, string reason)
    {
        Func<Task> read = () => Read("{\"prompt\": \"fine\"}", line);
        PromptFormatException error = (await read.Should().ThrowAsync<PromptFormatException>()).Which;
        error.LineNumber.Should().Be(2);
        error.Message.Should().Contain(reason);
    }
}
