using System.CommandLine;
using KnowledgeDistillation.Cli.Cache;

namespace KnowledgeDistillation.Cli.Commands;

/// <summary><c>kd cache-teacher</c>: runs a trained teacher once over the training set and writes its outputs to a sharded teacher cache.</summary>
internal static class CacheTeacherCommand
{
    public static Command Create()
    {
        var d = new CacheTeacherSettings { OutputDirectory = "" };
        var output = new Option<string>("--out") { Description = "The cache folder (shards of every worker go into the same folder).", Required = true };
        var teacher = new Option<string>("--teacher") { Description = "Teacher architecture, as given to kd distill.", DefaultValueFactory = _ => d.Teacher };
        var weights = new Option<string?>("--teacher-weights") { Description = "Teacher weights file (default: the teacher kd distill cached in --cache for the same options)." };
        var cache = new Option<string>("--cache") { Description = "kd distill's teacher folder (its --cache).", DefaultValueFactory = _ => d.TeacherDirectory };
        var teacherEpochs = new Option<int>("--teacher-epochs") { Description = "The teacher's training epochs in kd distill (part of its cache key).", DefaultValueFactory = _ => d.TeacherEpochs };
        var noAugment = new Option<bool>("--no-teacher-augmentation") { Description = "The teacher was trained with kd distill --no-teacher-augmentation (part of its cache key)." };
        var distillBatch = new Option<int>("--distill-batch-size") { Description = "kd distill's --batch-size the teacher was trained with (part of its cache key).", DefaultValueFactory = _ => d.DistillBatchSize };
        var format = new Option<string>("--format") { Description = "float32 (exact), float16 (half the size) or topk (k index/value pairs per row).", DefaultValueFactory = _ => d.Format };
        var k = new Option<int>("--top-k") { Description = "Entries per row (k) for --format topk.", DefaultValueFactory = _ => d.TopK };
        var values = new Option<string>("--values") { Description = "What top-k values are: logits or logprobs (full-vocabulary log-probabilities).", DefaultValueFactory = _ => d.Values };
        var shard = new Option<string>("--shard") { Description = "i/n: this worker writes shards j with j mod n = i (for parallel jobs; JOB_COMPLETION_INDEX/n on Kubernetes).", DefaultValueFactory = _ => d.Shard };
        var rows = new Option<int>("--rows-per-shard") { Description = "Rows per shard file; every worker of one cache must use the same value.", DefaultValueFactory = _ => d.RowsPerShard };
        var batch = new Option<int>("--batch-size") { Description = "Rows per teacher call (every worker of one cache must use the same value).", DefaultValueFactory = _ => d.BatchSize };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N.", DefaultValueFactory = _ => d.Device };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for libtorch." };
        var trainLimit = new Option<int?>("--train-limit") { Description = "Cache only the first N training images (must match kd distill --train-limit)." };
        var data = new Option<string?>("--data") { Description = "Folder with the Fashion-MNIST IDX files." };

        var command = new Command("cache-teacher", "Run a trained teacher once over the Fashion-MNIST training set and write its outputs to a sharded, checksummed teacher cache that kd distill --teacher-cache trains from. Interrupted runs resume at the first missing shard.")
        {
            output, teacher, weights, cache, teacherEpochs, noAugment, distillBatch, format, k, values, shard, rows, batch, device, threads, trainLimit, data,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var interrupt = new ConsoleInterrupt(cancellationToken);
            return await RunAsync(
                new CacheTeacherSettings
                {
                    OutputDirectory = parse.GetValue(output)!,
                    Teacher = parse.GetValue(teacher)!,
                    TeacherWeights = parse.GetValue(weights),
                    TeacherDirectory = parse.GetValue(cache)!,
                    TeacherEpochs = parse.GetValue(teacherEpochs),
                    TeacherAugmentation = !parse.GetValue(noAugment),
                    DistillBatchSize = parse.GetValue(distillBatch),
                    Format = parse.GetValue(format)!,
                    TopK = parse.GetValue(k),
                    Values = parse.GetValue(values)!,
                    Shard = parse.GetValue(shard)!,
                    RowsPerShard = parse.GetValue(rows),
                    BatchSize = parse.GetValue(batch),
                    Device = parse.GetValue(device)!,
                    Threads = parse.GetValue(threads),
                    TrainLimit = parse.GetValue(trainLimit),
                    DataDirectory = parse.GetValue(data),
                },
                Console.Out, interrupt.Token).ConfigureAwait(false);
        });
        return command;
    }

    internal static async Task<int> RunAsync(CacheTeacherSettings settings, TextWriter output, CancellationToken cancellationToken)
    {
        try
        {
            await new CacheTeacherRunner(settings, output).RunAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }
        catch (InvalidOperationException ex)
        {
            await Console.Error.WriteLineAsync($"kd cache-teacher: {ex.Message}").ConfigureAwait(false);
            return CliFailure.ExitCode;
        }
        catch (Exception ex) when (CliFailure.Describe(ex, "Completed shards are kept; the rerun writes the missing ones.") is { } message)
        {
            await Console.Error.WriteLineAsync($"kd cache-teacher: {message}").ConfigureAwait(false);
            return CliFailure.ExitCode;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("kd cache-teacher: cancelled; completed shards are kept, rerun the same command to resume.").ConfigureAwait(false);
            return 130;
        }
    }
}
