using KnowledgeDistillation.Extensions.AI.Generation;

namespace KnowledgeDistillation.Extensions.AI.Tests;

/// <summary>
/// Two runs on one output: the second is refused before it reads or changes anything. (FileShare.Read took a shared
/// flock on Linux, which a second writer also got: both appended, and the file ended with interleaved, torn lines.)
/// </summary>
public sealed class OutputLockTests : LoopbackTestBase
{
    [Fact]
    public async Task SecondWriter_OnAnOpenOutput_IsRefused_AndTheFileIsUntouched()
    {
        string output = Path.Combine(Dir, "out.jsonl");
        await File.WriteAllTextAsync(output, "{\"id\":\"old\",\"response\":\"x\"}\n{\"id\":\"torn\",\"resp");   // a torn line the second open would cut
        TeacherRecordWriter first = TeacherRecordWriter.Open(output, flushToDisk: false);   // repairs the torn line, holds the lock

        Action second = () => TeacherRecordWriter.Open(output, flushToDisk: false);

        second.Should().Throw<IOException>().WithMessage("*being written by another run*did not change it*");
        await first.DisposeAsync();
        // (While the lock is held, .NET readers are refused too: their shared lock conflicts with it.)
        (await File.ReadAllTextAsync(output)).Should().Be("{\"id\":\"old\",\"response\":\"x\"}\n", "only the first writer's repair changed the file");
        await using TeacherRecordWriter third = TeacherRecordWriter.Open(output, flushToDisk: false);   // free again once the first run ends
        third.LastIsError.Keys.Should().Equal("old");
    }

    [Fact]
    public async Task TwoConcurrentRuns_OnOneOutput_TheSecondIsRefused_TheFirstWritesEveryRecordOnce()
    {
        Server.AnswerDelay = TimeSpan.FromMilliseconds(30);
        string file = PromptsFile(Enumerable.Range(0, 40).Select(i => $"locked prompt {i}"));
        string output = Path.Combine(Dir, "out.jsonl");
        var firstWrote = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        Task<GenerationSummary> first = Generator(Teacher(), o => o.MaxConcurrency = 2)
            .GenerateAsync(file, output, new SyncProgress(p => { if (p.Written > 0) { firstWrote.TrySetResult(); } }));
        await firstWrote.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Func<Task> second = () => Generator(Teacher()).GenerateAsync(file, output);

        (await second.Should().ThrowAsync<IOException>()).WithMessage("*being written by another run*");
        GenerationSummary summary = await first.WaitAsync(TimeSpan.FromSeconds(60));
        summary.Final.Written.Should().Be(40);
        string[] lines = await File.ReadAllLinesAsync(output);
        lines.Should().HaveCount(40);
        (await ReadRecords(output)).Select(r => r.Id).Should().OnlyHaveUniqueItems().And.HaveCount(40);
        Server.RequestCount.Should().Be(40, "the refused run sent nothing");
    }
}
