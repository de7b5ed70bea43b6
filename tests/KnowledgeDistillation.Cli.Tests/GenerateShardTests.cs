using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Extensions.AI.Generation;

namespace KnowledgeDistillation.Cli.Tests;

/// <summary>kd generate --shard i/n workers and kd generate-merge.</summary>
public sealed class GenerateShardTests : GenerateCliTestBase
{
    [Fact]
    public async Task ThreeWorkers_ThenGenerateMerge_GiveOneRecordPerPrompt()
    {
        string prompts = Prompts(Enumerable.Range(0, 24).Select(i => $"shard prompt {i}"));
        string output = Path.Combine(Dir, "out", "teacher.jsonl");

        for (int i = 0; i < 3; i++)
        {
            (int code, string stdout, string stderr) = await Run(Settings(prompts, output) with { Shard = $"{i}/3", NoCache = true });
            code.Should().Be(0, stderr);
            stdout.Should().Contain($"teacher.shard-0000{i}-of-00003.jsonl (shard {i}/3)").And.Contain("kd generate-merge --out");
        }
        File.Exists(output).Should().BeFalse("workers write their own files");
        Server.RequestCount.Should().Be(24, "each prompt is in exactly one shard");

        var stdoutMerge = new StringWriter();
        var stderrMerge = new StringWriter();
        int merged = await GenerateMergeCommand.RunAsync(output, 3, [], stdoutMerge, stderrMerge, CancellationToken.None);

        merged.Should().Be(0, stderrMerge.ToString());
        stdoutMerge.ToString().Should().Contain("3 file(s), 24 record line(s)").And.Contain("24 record(s), one per prompt id");
        string[] lines = await File.ReadAllLinesAsync(output);
        lines.Should().HaveCount(24);
        var ids = new List<string>();
        await foreach (TeacherRecord r in TeacherRecordFile.ReadAllAsync(output))
        {
            ids.Add(r.Id);
        }
        ids.Should().OnlyHaveUniqueItems().And.BeEquivalentTo(Enumerable.Range(0, 24).Select(i => $"p{i}"));
        Directory.GetFiles(Path.Combine(Dir, "out"), "*.tmp").Should().BeEmpty();
    }

    [Fact]
    public async Task GenerateMerge_MissingShard_Exits2_NamingIt_AndLeavesTheOutputAlone()
    {
        string prompts = Prompts(Enumerable.Range(0, 6).Select(i => $"p {i}"));
        string output = Path.Combine(Dir, "teacher.jsonl");
        (await Run(Settings(prompts, output) with { Shard = "0/2", NoCache = true })).Code.Should().Be(0);
        var stderr = new StringWriter();

        int code = await GenerateMergeCommand.RunAsync(output, 2, [], TextWriter.Null, stderr, CancellationToken.None);

        code.Should().Be(2);
        stderr.ToString().Should().Contain("1 of 2 shard file(s) are missing: 1 (teacher.shard-00001-of-00002.jsonl)").And.Contain("--shard i/2");
        File.Exists(output).Should().BeFalse();
        (await GenerateMergeCommand.RunAsync(output, null, [], TextWriter.Null, stderr, CancellationToken.None)).Should().Be(2);
        (await GenerateMergeCommand.RunAsync(output, 0, [], TextWriter.Null, stderr, CancellationToken.None)).Should().Be(2);
        stderr.ToString().Should().Contain("--shards 0 is out of range");
    }
}
