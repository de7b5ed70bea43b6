using System.Diagnostics;
using System.Globalization;
using KnowledgeDistillation.Caching;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Cli.Distill;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Datasets;
using KnowledgeDistillation.IO;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Recipes;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;

namespace KnowledgeDistillation.Cli.Cache;

/// <summary>Loads a trained teacher and writes its outputs on the Fashion-MNIST training set (or a prefix of it) to a teacher cache.</summary>
internal sealed class CacheTeacherRunner(CacheTeacherSettings settings, TextWriter log)
{
    private static readonly int[] ImageShape = [1, 28, 28];

    public async Task<TeacherCacheWriteResult> RunAsync(CancellationToken cancellationToken)
    {
        TeacherCacheOptions options = Options();
        ShardSelection shard = options.Shard;
        TorchSharpRuntime.EnsureInitialized();
        if (settings.Threads is { } threads)
        {
            torch.set_num_threads(threads);
        }
        torch.Device device = TorchSharpRuntime.ResolveDevice(settings.Device);
        LabeledImageSet train = FashionMnist.Load(DataSplit.Train, settings.DataDirectory);
        if (settings.TrainLimit is { } limit)
        {
            train = train.Take(limit);
        }
        string weights = settings.TeacherWeights ?? FindTeacher(train);
        if (!File.Exists(weights))
        {
            throw new FileNotFoundException($"Teacher weights '{weights}' do not exist.", weights);
        }
        using TorchModel teacher = TorchModel.FromPreset(settings.Teacher, ImageShape, 10, seed: 0, device);
        WeightsFile.Load(teacher, weights);
        options.TeacherId = TeacherStore.TeacherId(settings.Teacher, weights);
        log.WriteLine($"teacher {options.TeacherId} from {weights}; {train.Count} training images; device {device}; {torch.get_num_threads()} thread(s)");
        log.WriteLine($"writing {options.Format}{(options.Format == TeacherCacheFormat.TopK ? $" k={options.TopK} ({options.TopKValues})" : "")} cache to {settings.OutputDirectory}, {options.RowsPerShard} rows per shard, worker {shard}");

        var clock = Stopwatch.StartNew();
        var progress = new SyncProgress(p => log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  shard {p.Shard} written ({p.ShardsWritten}/{p.ShardsToWrite}, {clock.Elapsed.TotalSeconds:F1} s): {Path.GetFileName(p.Path)}")));
        TeacherCacheWriteResult result = await TeacherCacheWriter.WriteAsync(teacher, train, settings.OutputDirectory, options, progress, cancellationToken).ConfigureAwait(false);
        long bytes = Directory.GetFiles(settings.OutputDirectory, "*.kdtc").Sum(f => new FileInfo(f).Length);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"worker {shard}: {result.ShardsWritten} shard(s) written, {result.ShardsSkipped} already present, of {result.AssignedShards} assigned ({result.ShardCount} in the cache); " +
            $"{result.BytesPerRow} payload bytes per row; folder holds {bytes:N0} bytes; {clock.Elapsed.TotalSeconds:F1} s"));
        return result;
    }

    internal TeacherCacheOptions Options()
    {
        OptionRules.OutputFolder("--out", settings.OutputDirectory, "the cache's shards");
        OptionRules.InputFile("--teacher-weights", settings.TeacherWeights, "the teacher's weights file");
        OptionRules.InputFolder("--cache", settings.TeacherDirectory, "kd distill's cached teachers");
        OptionRules.InputFolder("--data", settings.DataDirectory, "the Fashion-MNIST IDX files");
        OptionRules.Range("--teacher-epochs", settings.TeacherEpochs, 1, 1_000_000, "the teacher's training epochs in kd distill");
        OptionRules.Range("--distill-batch-size", settings.DistillBatchSize, 1, 1 << 20, "kd distill's --batch-size");
        OptionRules.Range("--top-k", settings.TopK, 1, 10, "entries per row of a topk cache; Fashion-MNIST has 10 classes");
        OptionRules.Range("--rows-per-shard", settings.RowsPerShard, 1, 1 << 24, "rows per shard file");
        OptionRules.Range("--batch-size", settings.BatchSize, 1, 1 << 20, "rows per teacher call");
        OptionRules.Threads("--threads", settings.Threads);
        OptionRules.Range("--train-limit", settings.TrainLimit, 1, int.MaxValue, "training images cached");
        var options = new TeacherCacheOptions
        {
            Format = settings.Format.ToLowerInvariant() switch
            {
                "float32" => TeacherCacheFormat.Float32,
                "float16" => TeacherCacheFormat.Float16,
                "topk" => TeacherCacheFormat.TopK,
                _ => throw new ArgumentException($"Unknown --format '{settings.Format}'. Use float32, float16 or topk.", "--format"),
            },
            TopKValues = settings.Values.ToLowerInvariant() switch
            {
                "logits" => TopKValueKind.Logits,
                "logprobs" => TopKValueKind.LogProbabilities,
                _ => throw new ArgumentException($"Unknown --values '{settings.Values}'. Use logits or logprobs.", "--values"),
            },
            TopK = settings.TopK,
            RowsPerShard = settings.RowsPerShard,
            BatchSize = settings.BatchSize,
            Shard = ShardSelection.Parse(settings.Shard),
        };
        options.Validate(10);
        // The architecture is checked by building it once (and disposing it).
        using (ModelPresets.Create(settings.Teacher, ImageShape, 10))
        {
        }
        return options;
    }

    /// <summary>The teacher <c>kd distill</c> trained with the same settings, in its --cache folder.</summary>
    private string FindTeacher(LabeledImageSet train)
    {
        TeacherPlan plan = TeacherPlan.For(settings);
        string path = plan.Store.PathFor(plan.Key(train));
        if (!File.Exists(path))
        {
            string[] found = Directory.Exists(settings.TeacherDirectory) ? Directory.GetFiles(settings.TeacherDirectory, "teacher-*" + WeightsFile.Extension) : [];
            throw new FileNotFoundException(
                $"No teacher trained by 'kd distill' with --teacher {settings.Teacher} --teacher-epochs {settings.TeacherEpochs} on these {train.Count} images is cached in '{settings.TeacherDirectory}' (expected {Path.GetFileName(path)}; found {(found.Length == 0 ? "none" : string.Join(", ", found.Select(Path.GetFileName)))}). " +
                "Run kd distill with the same options first, or pass --teacher-weights FILE.", path);
        }
        return path;
    }

    private sealed class SyncProgress(Action<TeacherCacheProgress> report) : IProgress<TeacherCacheProgress>
    {
        public void Report(TeacherCacheProgress value) => report(value);
    }
}
