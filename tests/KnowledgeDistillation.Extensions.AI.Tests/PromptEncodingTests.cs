using System.Text;
using KnowledgeDistillation.Extensions.AI.Generation;

namespace KnowledgeDistillation.Extensions.AI.Tests;

/// <summary>Bytes that are not UTF-8 in a prompts file are refused (or skipped and counted), never sent as U+FFFD.</summary>
public sealed class PromptEncodingTests : LoopbackTestBase
{
    private string WriteBytes(params byte[][] lines)
    {
        string path = Path.Combine(Dir, "prompts.jsonl");
        using var stream = File.Create(path);
        foreach (byte[] line in lines)
        {
            stream.Write(line);
            stream.WriteByte((byte)'\n');
        }
        return path;
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    // {"id": "b", "prompt": "caf\xE9"}: a Latin-1 'é', not UTF-8.
    private static byte[] Latin1Line => [.. Utf8("{\"id\": \"b\", \"prompt\": \"caf"), 0xE9, .. Utf8("\"}")];

    [Fact]
    public async Task NonUtf8Bytes_AreRefused_NamingTheLine_NothingIsSent_NoOutputIsWritten()
    {
        string file = WriteBytes(Utf8("{\"id\": \"a\", \"prompt\": \"fine\"}"), Utf8(""), Latin1Line, Utf8("{\"id\": \"c\", \"prompt\": \"fine too\"}"));
        string output = Path.Combine(Dir, "out.jsonl");

        Func<Task> run = () => Generator(Teacher()).GenerateAsync(file, output);

        PromptFormatException error = (await run.Should().ThrowAsync<PromptFormatException>()).Which;
        error.LineNumber.Should().Be(3);
        error.Message.Should().Contain("line 3").And.Contain("not valid UTF-8").And.Contain("0xE9").And.Contain("--skip-invalid");
        Server.RequestCount.Should().Be(0);
        File.Exists(output).Should().BeFalse();
    }

    [Fact]
    public async Task NonUtf8Lines_WithSkip_AreSkippedAndCounted_AndNoReplacementCharacterReachesTheServer()
    {
        byte[] cutCharacter = [.. Utf8("{\"id\": \"d\", \"prompt\": \"東"), 0xE4, 0xBA, .. Utf8("\"}")];   // a 3-byte character cut short
        string file = WriteBytes(Utf8("{\"id\": \"a\", \"prompt\": \"café 東京\"}"), Latin1Line, cutCharacter);

        GenerationSummary summary = await Generator(Teacher(), o => o.InvalidLines = InvalidPromptLinePolicy.Skip).GenerateAsync(file, Path.Combine(Dir, "out.jsonl"));

        summary.InvalidLines.Select(l => l.LineNumber).Should().Equal(2, 3);
        summary.InvalidLines.Should().OnlyContain(l => l.Reason.Contains("not valid UTF-8"));
        summary.Final.Written.Should().Be(1);
        Server.Requests.Should().ContainSingle().Which.Prompt.Should().Be("café 東京");
        Server.Requests.Should().NotContain(r => r.Body.Contains('\uFFFD'));
    }

    [Fact]
    public async Task Utf8ByteOrderMark_IsAccepted_Utf16File_IsRefusedSayingSo()
    {
        string bom = WriteBytes([0xEF, 0xBB, 0xBF, .. Utf8("{\"id\": \"a\", \"prompt\": \"with a BOM\"}")]);
        (await PromptFile.ReadAsync(bom)).Prompts.Single().Id.Should().Be("a");

        string utf16 = Path.Combine(Dir, "utf16.jsonl");
        await File.WriteAllTextAsync(utf16, "{\"id\": \"a\", \"prompt\": \"x\"}\n", Encoding.Unicode);
        Func<Task> read = () => PromptFile.ReadAsync(utf16, InvalidPromptLinePolicy.Skip);
        (await read.Should().ThrowAsync<InvalidDataException>()).WithMessage("*UTF-16*UTF-8*");
    }
}
