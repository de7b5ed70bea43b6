using KnowledgeDistillation.Extensions.AI.Generation;
using KnowledgeDistillation.Extensions.AI.Teachers;

namespace KnowledgeDistillation.Extensions.AI.Tests;

public sealed class BadInputTests : LoopbackTestBase
{
    [Fact]
    public async Task InvalidLine_Stop_NamesTheLine_SendsNothing_WritesNoOutput()
    {
        string file = Path.Combine(Dir, "prompts.jsonl");
        await File.WriteAllLinesAsync(file, ["{\"prompt\": \"one\"}", "", "{\"prompt\": \"two\"", "{\"prompt\": \"three\"}"]);
        string output = Path.Combine(Dir, "out.jsonl");

        Func<Task> run = () => Generator(Teacher()).GenerateAsync(file, output);

        PromptFormatException error = (await run.Should().ThrowAsync<PromptFormatException>()).Which;
        error.LineNumber.Should().Be(3);
        error.Message.Should().Contain("line 3").And.Contain("not valid JSON").And.Contain("--skip-invalid");
        File.Exists(output).Should().BeFalse();
        Server.RequestCount.Should().Be(0);
    }

    [Fact]
    public async Task InvalidLines_Skip_AreReported_AndTheValidOnesGenerated()
    {
        string file = Path.Combine(Dir, "prompts.jsonl");
        await File.WriteAllLinesAsync(file, ["{\"prompt\": \"one\"}", "[1, 2]", "{\"id\": \"x\", \"prompt\": \"two\"}", "{\"id\": \"x\", \"prompt\": \"dup\"}", "{\"messages\": [{\"role\": \"robot\", \"content\": \"hi\"}]}", "{\"prompt\": \"\"}"]);

        GenerationSummary summary = await Generator(Teacher(), o => o.InvalidLines = InvalidPromptLinePolicy.Skip).GenerateAsync(file, Path.Combine(Dir, "out.jsonl"));

        summary.InvalidLines.Select(l => l.LineNumber).Should().Equal(2, 4, 5, 6);
        summary.InvalidLines[1].Reason.Should().Contain("id 'x' is used by an earlier line");
        summary.InvalidLines[2].Reason.Should().Contain("'robot'");
        summary.Final.Written.Should().Be(2);
        Log.Lines.Should().Contain(l => l.Contains("line 2"));
    }

    [Fact]
    public async Task EmptyFile_IsAClearError_AndNoOutputIsCreated()
    {
        string file = Path.Combine(Dir, "empty.jsonl");
        await File.WriteAllTextAsync(file, "\n  \n");
        string output = Path.Combine(Dir, "out.jsonl");

        Func<Task> run = () => Generator(Teacher()).GenerateAsync(file, output);

        (await run.Should().ThrowAsync<InvalidDataException>()).WithMessage("*holds no prompts*");
        File.Exists(output).Should().BeFalse();
    }

    [Fact]
    public async Task MissingFile_NamesThePath()
    {
        Func<Task> run = () => PromptFile.ReadAsync(Path.Combine(Dir, "nope.jsonl"));
        (await run.Should().ThrowAsync<FileNotFoundException>()).WithMessage("*nope.jsonl*does not exist*");
    }

    [Theory]
    [InlineData("ftp://127.0.0.1/v1")]
    [InlineData("file:///etc/passwd")]
    [InlineData("https://user:secret@example.invalid/v1")]
    public void Endpoint_ThatIsNotPlainHttp_IsRejected_WithoutEchoingCredentials(string endpoint)
    {
        Action create = () => OpenAICompatibleChatClient.Create(new Uri(endpoint), "m", "k");
        ArgumentException error = create.Should().Throw<ArgumentException>().Which;
        error.ParamName.Should().Be("endpoint");
        error.Message.Should().NotContain("secret");
    }

    [Fact]
    public void Endpoint_Relative_IsRejected()
    {
        Action create = () => OpenAICompatibleChatClient.Create(new Uri("/v1", UriKind.Relative), "m", "k");
        create.Should().Throw<ArgumentException>().WithMessage("*absolute http:// or https://*");
    }

    [Fact]
    public void NegativeBudget_AndOtherBadOptions_AreRejectedUpFront_NamingTheOption()
    {
        ChatClientTeacher teacher = Teacher(o => o.MaxOutputTokens = 10);
        Action negative = () => Generator(teacher, o => o.MaxCost = -1m);
        negative.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("MaxCost");
        Action negativeTokens = () => Generator(teacher, o => o.MaxTotalTokens = -5);
        negativeTokens.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*token budget*");
        Action concurrency = () => Generator(teacher, o => o.MaxConcurrency = 0);
        concurrency.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("MaxConcurrency");

        Action unbounded = () => Generator(Teacher(), o => o.MaxCost = 1m);
        unbounded.Should().Throw<ArgumentException>().WithMessage("*MaxOutputTokens*");
        Action unpriced = () => Generator(Teacher(o => { o.MaxOutputTokens = 10; o.Model = "other-model"; }), o => o.MaxCost = 1m);
        unpriced.Should().Throw<ArgumentException>().WithMessage("*no price for model 'other-model'*");

        Action topK = () => Teacher(o => o.TopLogProbabilities = 21);
        topK.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("TopLogProbabilities");
        Action attempts = () => Teacher(o => o.Retry.MaxAttempts = 0);
        attempts.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("MaxAttempts");
        Action price = () => new PriceTable().Add("m", new ModelPrice(-1, 1));
        price.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public async Task DuplicateIds_FromAStream_StopTheRun()
    {
        TeacherPrompt[] prompts = [TeacherPrompt.FromText("a", "one"), TeacherPrompt.FromText("a", "two")];
        Func<Task> run = () => Generator(Teacher()).GenerateAsync(prompts.ToAsyncEnumerable(), Path.Combine(Dir, "out.jsonl"));
        (await run.Should().ThrowAsync<InvalidDataException>()).WithMessage("*'a' occurs twice*");
    }
}
