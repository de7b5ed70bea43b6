using System.CommandLine;
using System.Globalization;
using KnowledgeDistillation.Extensions.AI.Generation;

namespace KnowledgeDistillation.Cli.Commands;

/// <summary>
/// <c>kd generate-merge</c>: joins the files of sharded <c>kd generate --shard i/n</c> workers (or any record files) into
/// one file with exactly one record per prompt id, written atomically.
/// </summary>
internal static class GenerateMergeCommand
{
    internal const int ExitDone = 0, ExitBadInput = 2;

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "The merged file: the same --out the workers were given (replaced atomically when it exists).", Required = true };
        var shards = new Option<int?>("--shards") { Description = "n: merge the n shard files of --out (NAME.shard-00000-of-0000n.EXT …); every one must exist." };
        var inputs = new Argument<string[]>("files") { Description = "Record files to merge instead of --shards, in order.", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("generate-merge", "Join the outputs of kd generate --shard i/n workers (or any kd generate outputs) into one JSONL file with exactly one record per prompt id: the last record of an id within a file, an answer over an error record, one copy of a repeated answer; two different answers for one id are refused. Written atomically. Exit codes: 0 merged, 2 bad input (a missing shard, a damaged line, conflicting answers, a shard still being written).")
        {
            output, shards, inputs,
        };
        command.SetAction(async (parse, cancellationToken) =>
            await RunAsync(parse.GetValue(output)!, parse.GetValue(shards), parse.GetValue(inputs) ?? [], Console.Out, Console.Error, cancellationToken).ConfigureAwait(false));
        return command;
    }

    internal static async Task<int> RunAsync(string output, int? shards, IReadOnlyList<string> files, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> inputs;
        if (shards is { } n)
        {
            if (files.Count > 0)
            {
                await stderr.WriteLineAsync("kd generate-merge: give --shards n or a list of files, not both.").ConfigureAwait(false);
                return ExitBadInput;
            }
            if (n is < 1 or > PromptShard.MaxCount)
            {
                await stderr.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"kd generate-merge: --shards {n} is out of range: give the n of the workers' --shard i/n, from 1 to {PromptShard.MaxCount}.")).ConfigureAwait(false);
                return ExitBadInput;
            }
            inputs = PromptShard.OutputPaths(output, n);
            string[] missing = [.. inputs.Select((path, i) => (path, i)).Where(x => !File.Exists(x.path)).Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.i} ({Path.GetFileName(x.path)})"))];
            if (missing.Length > 0)
            {
                await stderr.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"kd generate-merge: {missing.Length} of {n} shard file(s) are missing: {string.Join(", ", missing.Take(20))}{(missing.Length > 20 ? ", …" : "")}. Run those workers (kd generate --shard i/{n} with the same --out), then merge again.")).ConfigureAwait(false);
                return ExitBadInput;
            }
        }
        else if (files.Count > 0)
        {
            inputs = files;
        }
        else
        {
            await stderr.WriteLineAsync("kd generate-merge: nothing to merge: give --shards n (the workers' --shard i/n) or the files to merge.").ConfigureAwait(false);
            return ExitBadInput;
        }
        RecordMergeSummary summary;
        try
        {
            summary = await TeacherRecordFile.MergeAsync(inputs, output, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ArgumentException or FileNotFoundException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync($"kd generate-merge: {ex.Message} '{output}' was not changed.").ConfigureAwait(false);
            return ExitBadInput;
        }
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"kd generate-merge: {summary.Inputs} file(s), {summary.LinesRead} record line(s) -> {output}: {summary.Records} record(s), one per prompt id ({summary.Records - summary.ErrorRecords} answers, {summary.ErrorRecords} error records); dropped {summary.SupersededRecords} superseded and {summary.IdenticalDuplicates} identical duplicate record(s)")).ConfigureAwait(false);
        return ExitDone;
    }
}
