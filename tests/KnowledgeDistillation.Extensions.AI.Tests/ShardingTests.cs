using KnowledgeDistillation.Extensions.AI.Generation;

namespace KnowledgeDistillation.Extensions.AI.Tests;

public sealed class ShardingTests : LoopbackTestBase
{
    [Fact]
    public void Shard_IsAStableHashOfTheId_SpreadEvenly_AndParsedWithClearErrors()
    {
        PromptShard.Of("q000", 8).Should().Be(PromptShard.Of("q000", 8));
        // Pinned: the assignment must never change between versions, or resumed sharded runs would redo or skip prompts.
        Enumerable.Range(0, 8).Select(i => PromptShard.Of($"q{i:000}", 4)).Should().Equal(0, 3, 2, 0, 1, 2, 2, 1);
        int[] counts = new int[4];
        for (int i = 0; i < 4000; i++)
        {
            counts[PromptShard.Of($"id-{i}", 4)]++;
        }
        counts.Should().OnlyContain(c => c > 900 && c < 1100);

        PromptShard.Parse("3/8").Should().Be(new PromptShard(3, 8));
        new PromptShard(3, 8).OutputPathFor(Path.Combine("out", "teacher.jsonl")).Should().Be(Path.Combine("out", "teacher.shard-00003-of-00008.jsonl"));
        foreach (string bad in new[] { "8/8", "-1/8", "1/0", "a/b", "3", "1/2/3" })
        {
            Action parse = () => PromptShard.Parse(bad);
            parse.Should().Throw<FormatException>().WithMessage("*shard*");
        }
    }

    [Fact]
    public async Task ThreeShards_ThenMerge_GiveExactlyTheRecordsOfOneUnshardedRun()
    {
        string file = PromptsFile(Enumerable.Range(0, 30).Select(i => $"sharded prompt {i}"));
        string whole = Path.Combine(Dir, "whole.jsonl");
        await Generator(Teacher(o => o.TopLogProbabilities = 2)).GenerateAsync(file, whole);
        string output = Path.Combine(Dir, "sharded", "teacher.jsonl");

        var counts = new List<int>();
        for (int i = 0; i < 3; i++)
        {
            var shard = new PromptShard(i, 3);
            GenerationSummary summary = await Generator(Teacher(o => o.TopLogProbabilities = 2), o => o.Shard = shard).GenerateAsync(file, shard.OutputPathFor(output));
            summary.Shard.Should().Be(shard);
            counts.Add(summary.Final.Written);
            (await ReadRecords(shard.OutputPathFor(output))).Should().OnlyContain(r => shard.Contains(r.Id));
        }
        counts.Sum().Should().Be(30);
        counts.Should().OnlyContain(c => c > 0);

        RecordMergeSummary merged = await TeacherRecordFile.MergeAsync(PromptShard.OutputPaths(output, 3), output);

        merged.Records.Should().Be(30);
        List<TeacherRecord> records = await ReadRecords(output);
        records.Select(r => r.Id).Should().OnlyHaveUniqueItems();
        records.OrderBy(r => r.Id).Select(Content).Should().Equal((await ReadRecords(whole)).OrderBy(r => r.Id).Select(Content));
        Directory.GetFiles(Path.Combine(Dir, "sharded"), "*.tmp").Should().BeEmpty();
    }

    [Fact]
    public async Task Merge_OneRecordPerId_AnswerBeatsError_IdenticalDuplicateKeptOnce_DifferentAnswersRefused()
    {
        string a = Path.Combine(Dir, "a.jsonl"), b = Path.Combine(Dir, "b.jsonl"), output = Path.Combine(Dir, "merged.jsonl");
        await File.WriteAllLinesAsync(a, [
            "{\"id\":\"1\",\"response\":\"one\"}",
            "{\"id\":\"2\",\"error\":{\"kind\":\"http_400\",\"status\":400,\"message\":\"x\"}}",
            "{\"id\":\"3\",\"error\":{\"kind\":\"http_400\",\"status\":400,\"message\":\"x\"}}",
            "{\"id\":\"3\",\"response\":\"three, retried\"}",
        ]);
        await File.WriteAllLinesAsync(b, [
            "{\"id\":\"2\",\"response\":\"two\"}",
            "{\"id\":\"1\",\"response\":\"one\",\"latency_ms\":5}",
            "{\"id\":\"4\",\"error\":{\"kind\":\"http_400\",\"status\":400,\"message\":\"y\"}}",
        ]);
        await File.WriteAllTextAsync(output, "old content\n");

        RecordMergeSummary summary = await TeacherRecordFile.MergeAsync([a, b], output);

        summary.Records.Should().Be(4);
        summary.ErrorRecords.Should().Be(1);
        summary.IdenticalDuplicates.Should().Be(1);
        (await File.ReadAllLinesAsync(output)).Should().Equal(
            "{\"id\":\"1\",\"response\":\"one\"}",
            "{\"id\":\"3\",\"response\":\"three, retried\"}",
            "{\"id\":\"2\",\"response\":\"two\"}",
            "{\"id\":\"4\",\"error\":{\"kind\":\"http_400\",\"status\":400,\"message\":\"y\"}}");

        await File.AppendAllLinesAsync(b, ["{\"id\":\"3\",\"response\":\"another answer\"}"]);
        string before = await File.ReadAllTextAsync(output);
        Func<Task> conflict = () => TeacherRecordFile.MergeAsync([a, b], output);
        (await conflict.Should().ThrowAsync<InvalidDataException>()).WithMessage("*'3' has different answers*a.jsonl*line 4*b.jsonl*line 4*");
        (await File.ReadAllTextAsync(output)).Should().Be(before, "a refused merge leaves the destination as it was");
        Directory.GetFiles(Dir, "*.tmp").Should().BeEmpty();
    }

    [Fact]
    public async Task Merge_RefusesATornLine_AMissingInput_AndWritingOverAnInput()
    {
        string a = Path.Combine(Dir, "a.jsonl");
        await File.WriteAllTextAsync(a, "{\"id\":\"1\",\"response\":\"one\"}\n{\"id\":\"2\",\"resp");

        Func<Task> torn = () => TeacherRecordFile.MergeAsync([a], Path.Combine(Dir, "m.jsonl"));
        (await torn.Should().ThrowAsync<InvalidDataException>()).WithMessage("*a.jsonl*line 2*damaged*Rerun that worker*");
        Func<Task> missing = () => TeacherRecordFile.MergeAsync([a, Path.Combine(Dir, "nope.jsonl")], Path.Combine(Dir, "m.jsonl"));
        (await missing.Should().ThrowAsync<FileNotFoundException>()).WithMessage("*nope.jsonl*");
        Func<Task> self = () => TeacherRecordFile.MergeAsync([a], a);
        (await self.Should().ThrowAsync<ArgumentException>()).WithMessage("*also an input*");
        File.Exists(Path.Combine(Dir, "m.jsonl")).Should().BeFalse();
    }
}
