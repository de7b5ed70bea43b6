using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Caching;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Datasets;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Metrics;
using KnowledgeDistillation.Schedules;
using KnowledgeDistillation.Teachers;
using KnowledgeDistillation.TorchSharp.Features;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;
using TorchSharp;

namespace KnowledgeDistillation.Cli.Distill;

/// <summary>
/// The main job: trains (or loads from the cache) a teacher, then for each seed a student with distillation and
/// the same student from scratch with the same budget, evaluates all three on the test set, and reports.
/// </summary>
internal sealed class DistillRunner(DistillSettings settings, TextWriter log)
{
    private static readonly int[] ImageShape = [1, 28, 28];

    public async Task<DistillReport> RunAsync(CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        Validate();
        TorchSharpRuntime.EnsureInitialized();
        if (settings.Threads is { } threads)
        {
            torch.set_num_threads(threads);
        }
        var device = TorchSharpRuntime.ResolveDevice(settings.Device);
        LabeledImageSet train = FashionMnist.Load(DataSplit.Train, settings.DataDirectory);
        LabeledImageSet test = FashionMnist.Load(DataSplit.Test, settings.DataDirectory);
        if (settings.TrainLimit is { } trainLimit)
        {
            train = train.Take(trainLimit);
        }
        if (settings.TestLimit is { } testLimit)
        {
            test = test.Take(testLimit);
        }
        log.WriteLine($"Fashion-MNIST: {train.Count} training, {test.Count} test images; device {device}; {torch.get_num_threads()} thread(s)");
        Directory.CreateDirectory(settings.OutputDirectory);

        var members = new List<TorchModel>();
        double teacherSeconds = 0;
        try
        {
            for (int member = 0; member < settings.Teachers; member++)
            {
                (TorchModel model, double seconds) = await GetTeacherAsync(train, device, member, cancellationToken).ConfigureAwait(false);
                members.Add(model);
                teacherSeconds += seconds;
            }
        }
        catch
        {
            members.ForEach(m => m.Dispose());
            throw;
        }
        // One teacher is used as is (the trainer's fast TorchSharp path); several become one EnsembleTeacher.
        using ITeacher teacher = members.Count == 1 ? members[0] : new EnsembleTeacher(members, new EnsembleTeacherOptions { Name = $"ensemble of {members.Count} × {settings.Teacher}" });
        using (TeacherCache? targets = OpenTeacherCache(train))
        {
            _targets = targets;
            // Each member runs over the test set once; the ensemble's logits are combined from those, not inferred again.
            float[][] memberTest = [.. members.Select(m => PredictAll(m, test))];
            double[] memberAccuracies = [.. memberTest.Select(logits => ClassificationMetrics.Accuracy(logits, test.Labels, 10))];
            float[] teacherTest = memberTest[0];
            if (teacher is EnsembleTeacher ensemble)
            {
                teacherTest = new float[memberTest[0].Length];
                EnsembleTeacher.Combine([.. memberTest.Select(l => (ReadOnlyMemory<float>)l)], ensemble.Weights, 10, EnsembleCombination.AverageProbabilities, weightByConfidence: false, teacherTest);
            }
            double teacherAccuracy = ClassificationMetrics.Accuracy(teacherTest, test.Labels, 10);
            if (members.Count > 1)
            {
                log.WriteLine($"teachers {settings.Teacher}: test accuracies {string.Join(", ", memberAccuracies.Select(a => a.ToString("P2", CultureInfo.InvariantCulture)))}");
            }
            log.WriteLine($"teacher {teacher.Metadata.Name}: test accuracy {teacherAccuracy:P2}, {teacher.Metadata.ParameterCount:N0} parameters");

            var kd = new List<(double Accuracy, double Agreement, double Ece, double Seconds, long Size, TorchModel Model)>();
            var scratch = new List<(double Accuracy, double Agreement, double Ece, double Seconds, long Size, TorchModel Model)>();
            try
            {
                foreach (int seed in settings.Seeds)
                {
                    kd.Add(await TrainStudentAsync(seed, teacher, train, test, teacherTest, device, distil: true, cancellationToken).ConfigureAwait(false));
                    scratch.Add(await TrainStudentAsync(seed, teacher, train, test, teacherTest, device, distil: false, cancellationToken).ConfigureAwait(false));
                    log.WriteLine($"seed {seed}: distilled {kd[^1].Accuracy:P2}, from scratch {scratch[^1].Accuracy:P2} ({(kd[^1].Accuracy - scratch[^1].Accuracy) * 100:+0.00;-0.00} pp)");
                }

                log.WriteLine("measuring latency…");
                ModelReport teacherReport = Report(
                    members.Count == 1 ? settings.Teacher : teacher.Metadata.Name, teacher, members.Sum(m => m.WeightsSizeInBytes()), [teacherAccuracy], null,
                    ClassificationMetrics.ExpectedCalibrationError(teacherTest, test.Labels, 10), teacherSeconds, test);
                ModelReport kdReport = Report(settings.Student, kd[0].Model, kd[0].Model.WeightsSizeInBytes(), kd.Select(k => k.Accuracy).ToArray(), kd.Average(k => k.Agreement), kd.Average(k => k.Ece), kd.Average(k => k.Seconds), test);
                ModelReport scratchReport = Report(settings.Student, scratch[0].Model, scratch[0].Model.WeightsSizeInBytes(), scratch.Select(k => k.Accuracy).ToArray(), scratch.Average(k => k.Agreement), scratch.Average(k => k.Ece), scratch.Average(k => k.Seconds), test);
                var options = StudentOptions(0, true);
                return new DistillReport(
                    "fashion-mnist", settings.Seeds, train.Count, test.Count, settings.Epochs,
                    Math.Round(options.TemperatureSchedule().ValueAt(0, 1), 6), Math.Round(options.AlphaSchedule().ValueAt(0, 1), 6), settings.Temperature, settings.Alpha, settings.Loss,
                    device.ToString(), torch.get_num_threads(), teacherReport, kdReport, scratchReport,
                    (kdReport.Accuracy - scratchReport.Accuracy) * 100,
                    $"{RuntimeInformation.OSDescription}, {Environment.ProcessorCount} cores, {RuntimeInformation.ProcessArchitecture}",
                    DateTimeOffset.UtcNow, total.Elapsed.TotalSeconds)
                {
                    Method = Method.ToString(),
                    Pairs = FeaturePairs().ToDictionary(kv => kv.Key, kv => string.Join(",", kv.Value)),
                    HintEpochs = settings.HintEpochs,
                    TeacherMemberAccuracies = members.Count > 1 ? memberAccuracies : null,
                };
            }
            finally
            {
                foreach (var s in kd.Concat(scratch))
                {
                    s.Model.Dispose();
                }
            }
        }
    }

    private TeacherCache? _targets;

    /// <summary>Opens --teacher-cache, refusing a cache of another data set or another teacher than the one trained/loaded here.</summary>
    private TeacherCache? OpenTeacherCache(LabeledImageSet train)
    {
        if (settings.TeacherCachePath is not { } folder)
        {
            return null;
        }
        string teacherId = TeacherId(settings.Teacher, TeacherWeightsPath(settings, train));
        TeacherCache cache;
        try
        {
            cache = TeacherCache.Open(folder, train, teacherId);
        }
        catch (InvalidOperationException ex)
        {
            throw new ArgumentException(ex.Message, "--teacher-cache", ex);
        }
        if (cache.IsTopK && settings.Loss.ToLowerInvariant() != "hinton")
        {
            cache.Dispose();
            throw new ArgumentException($"Teacher cache '{folder}' is top-k (k = {cache.K}); only --loss hinton has a top-k form. Use a float32/float16 cache for --loss {settings.Loss}.", "--teacher-cache");
        }
        log.WriteLine($"distilled students read teacher targets from cache {folder}: {cache.Format}{(cache.IsTopK ? $" k={cache.K}" : "")}, {cache.Count} rows, {cache.SizeInBytes / 1024.0:F0} KiB");
        return cache;
    }

    /// <summary>The teacher's identity in teacher caches: architecture and a hash of its weights file.</summary>
    internal static string TeacherId(string architecture, string weightsPath)
    {
        using FileStream stream = File.OpenRead(weightsPath);
        return $"{architecture}@{Convert.ToHexStringLower(SHA256.HashData(stream))[..16]}";
    }

    /// <summary>Where <c>kd distill</c> caches the teacher trained with these settings on this training set.</summary>
    /// <remarks>Member 0 (seed 1000) keeps the single-teacher file name; members of a <c>--teachers N</c> ensemble add their seed.</remarks>
    internal static string TeacherWeightsPath(DistillSettings settings, LabeledImageSet train, int member = 0) =>
        Path.Combine(settings.CacheDirectory, $"teacher-{TeacherCacheKey(settings, train)}{(member == 0 ? "" : $"-seed{TeacherSeed(member)}")}.weights");

    private static int TeacherSeed(int member) => 1000 + member;

    private void Validate()
    {
        if (settings.Seeds.Count == 0)
        {
            throw new ArgumentException("Give at least one seed (--seeds 0,1,2).", nameof(settings));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.TeacherEpochs, 1, "--teacher-epochs");
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.LatencyIterations, 1, "--latency-iterations");
        if (settings.Teachers is < 1 or > 16)
        {
            throw new ArgumentOutOfRangeException("--teachers", settings.Teachers, "Train between 1 and 16 teachers.");
        }
        if (settings.Teachers > 1 && settings.TeacherCachePath is not null)
        {
            throw new ArgumentException($"--teachers {settings.Teachers} distils a live ensemble; --teacher-cache holds one teacher's outputs. Use one of the two.", "--teachers");
        }
        if (settings.TrainLimit is < 1)
        {
            throw new ArgumentOutOfRangeException("--train-limit", settings.TrainLimit, "The training subset needs at least one image.");
        }
        if (settings.TestLimit is < 1)
        {
            throw new ArgumentOutOfRangeException("--test-limit", settings.TestLimit, "The test subset needs at least one image.");
        }
        StudentOptions(0, true).Validate();
        _ = CreateLoss(StudentOptions(0, true));
        _ = ModelPresets.Create(settings.Teacher, ImageShape, 10).GetName();
        _ = ModelPresets.Create(settings.Student, ImageShape, 10).GetName();
        _ = ParseAtMode();
        if (settings.HintEpochs < 0 || (settings.HintEpochs > 0 && settings.HintEpochs >= settings.Epochs))
        {
            throw new ArgumentOutOfRangeException("--hint-epochs", settings.HintEpochs, $"Hint pre-training takes the first N of the {settings.Epochs} student epochs: use 0 <= N < --epochs.");
        }
        if (settings.HintEpochs > 0 && Method.Features.Count == 0)
        {
            throw new ArgumentException($"--hint-epochs {settings.HintEpochs} pre-trains on feature losses, but --method {settings.Method} has none; use --method fitnet or fitnet+kd.", "--hint-epochs");
        }
        if (settings.FeatureWeight is { } w && (!float.IsFinite(w) || w < 0))
        {
            throw new ArgumentOutOfRangeException("--feature-weight", w, "The feature weight must be finite and non-negative.");
        }
        if (settings.Teachers > 1 && Method.Features.Count > 0)
        {
            throw new ArgumentException($"--method {settings.Method} compares layers of one teacher; an ensemble (--teachers {settings.Teachers}) has no single set of layers. Use --method kd with --teachers.", "--teachers");
        }
        if (settings.TeacherCachePath is not null && Method.Features.Count > 0)
        {
            throw new ArgumentException($"--teacher-cache holds the teacher's logits only; --method {settings.Method} also compares layers and needs the live teacher. Drop --teacher-cache or use --method kd.", "--teacher-cache");
        }
        if (settings.Pairs is not null && Method.Features.Count == 0)
        {
            throw new ArgumentException($"--pairs is given but --method {settings.Method} has no feature method (at, fitnet, sp, rkd).", "--pairs");
        }
        // Layer names are checked against the real models before any training (unknown names list the available ones).
        using var studentLayers = ModelPresets.Create(settings.Student, ImageShape, 10);
        using var teacherLayers = ModelPresets.Create(settings.Teacher, ImageShape, 10);
        foreach ((_, IReadOnlyList<LayerPair> pairs) in FeaturePairs())
        {
            FeatureCapture.Validate(studentLayers, pairs.Select(p => p.Student), "student");
            FeatureCapture.Validate(teacherLayers, pairs.Select(p => p.Teacher), "teacher");
        }
    }

    private DistillMethod Method => DistillMethod.Parse(settings.Method);

    private AttentionTransferMode ParseAtMode() => settings.AtMode.ToLowerInvariant() switch
    {
        "authors" => AttentionTransferMode.AuthorsCode,
        "paper" => AttentionTransferMode.PaperEquation,
        _ => throw new ArgumentException($"Unknown --at-mode '{settings.AtMode}'. Use authors (the authors' code, β = 1000) or paper (the paper's equation, β = 1).", "--at-mode"),
    };

    /// <summary>The layer pairs of each feature method: --pairs, or the preset defaults.</summary>
    internal IReadOnlyDictionary<string, IReadOnlyList<LayerPair>> FeaturePairs()
    {
        var result = new Dictionary<string, IReadOnlyList<LayerPair>>();
        if (Method.Features.Count == 0)
        {
            return result;
        }
        IReadOnlyList<string> studentLayers, teacherLayers;
        using (var s = ModelPresets.Create(settings.Student, ImageShape, 10))
        using (var t = ModelPresets.Create(settings.Teacher, ImageShape, 10))
        {
            (studentLayers, teacherLayers) = (s.LayerNames, t.LayerNames);
        }
        IReadOnlyList<LayerPair>? given = settings.Pairs is null ? null : LayerPair.ParseList(settings.Pairs);
        foreach (string feature in Method.Features)
        {
            result[feature] = given ?? DistillMethod.DefaultPairs(feature, studentLayers, teacherLayers);
        }
        return result;
    }

    /// <summary>Fresh feature losses (and adapters) for one student.</summary>
    private List<FeatureDistillationLoss> CreateFeatureLosses()
    {
        var losses = new List<FeatureDistillationLoss>();
        foreach ((string feature, IReadOnlyList<LayerPair> pairs) in FeaturePairs())
        {
            float? w = settings.FeatureWeight;
            losses.Add(feature switch
            {
                "at" => new AttentionTransferLoss(pairs, ParseAtMode(), w),
                "fitnet" => new FitNetHintLoss(pairs, w ?? 1),
                "sp" => new SimilarityPreservingLoss(pairs, w ?? 3000),
                _ => new RelationalKdLoss(pairs, weight: w ?? 1),
            });
        }
        return losses;
    }

    private DistillationOptions StudentOptions(int seed, bool distil) => new()
    {
        Epochs = settings.Epochs,
        BatchSize = settings.BatchSize,
        Seed = seed,
        LearningRate = settings.LearningRate,
        Optimizer = ParseOptimizer(settings.Optimizer),
        Temperature = settings.Temperature,
        Alpha = distil ? settings.Alpha : "0",
        Device = settings.Device,
    };

    /// <summary>The distillation loss named by --loss; every variant keeps (1 − α) of the hard-label loss, DKD adds the paper's CE weight 1.</summary>
    internal IDistillationLoss CreateLoss(DistillationOptions options)
    {
        ISchedule alpha = options.AlphaSchedule(), temperature = options.TemperatureSchedule();
        ISchedule oneMinusAlpha = new ComplementSchedule(alpha);
        return settings.Loss.ToLowerInvariant() switch
        {
            "hinton" when _targets is { IsTopK: true } => new TopKHintonDistillationLoss(alpha, temperature, _targets.K),
            "hinton" => new HintonDistillationLoss(alpha, temperature),
            "reverse-kl" => new CompositeDistillationLoss([(new SoftTargetLoss(DivergenceKind.ReverseKl, temperature), alpha), (new HardLabelLoss(), oneMinusAlpha)]),
            "jsd" => new CompositeDistillationLoss([(new SoftTargetLoss(DivergenceKind.JensenShannon, temperature), alpha), (new HardLabelLoss(), oneMinusAlpha)]),
            "dkd" => new CompositeDistillationLoss([(new DecoupledKdLoss(1, 8, temperature), Schedule.Constant(1)), (new HardLabelLoss(), Schedule.Constant(1))]),
            _ => throw new ArgumentException($"Unknown loss '{settings.Loss}'. Use hinton, reverse-kl, jsd or dkd.", "--loss"),
        };
    }

    private sealed class ComplementSchedule(ISchedule inner) : ISchedule
    {
        public float ValueAt(long step, long totalSteps) => 1 - inner.ValueAt(step, totalSteps);
    }

    private static OptimizerKind ParseOptimizer(string name) => name.ToLowerInvariant() switch
    {
        "adamw" => OptimizerKind.AdamW,
        "sgd" => OptimizerKind.Sgd,
        _ => throw new ArgumentException($"Unknown optimizer '{name}'. Use 'adamw' or 'sgd'.", "--optimizer"),
    };

    private async Task<(TorchModel Teacher, double Seconds)> GetTeacherAsync(LabeledImageSet train, torch.Device device, int member, CancellationToken cancellationToken)
    {
        string path = TeacherWeightsPath(settings, train, member);
        TorchModel teacher = TorchModel.FromPreset(settings.Teacher, ImageShape, 10, seed: TeacherSeed(member), device);
        if (File.Exists(path))
        {
            try
            {
                using FileStream stream = File.OpenRead(path);
                teacher.LoadWeights(stream);
                log.WriteLine($"teacher loaded from cache {path}");
                return (teacher, 0);
            }
            catch (InvalidDataException ex)
            {
                log.WriteLine($"cached teacher {path} is unusable ({ex.Message}); training it again");
            }
        }
        log.WriteLine($"training teacher {settings.Teacher} (seed {TeacherSeed(member)}) for {settings.TeacherEpochs} epoch(s)…");
        var options = new DistillationOptions
        {
            Epochs = settings.TeacherEpochs,
            BatchSize = settings.BatchSize,
            Seed = TeacherSeed(member),
            LearningRate = settings.TeacherLearningRate,
            Device = settings.Device,
        };
        var clock = Stopwatch.StartNew();
        // The teacher learns from randomly cropped and flipped images (it sees more than the student can); students train on plain images.
        IBatchSource teacherData = settings.TeacherAugmentation ? new AugmentedImageSource(train, padding: 2, horizontalFlip: true) : train;
        await new TorchDistiller(options, new HardLabelLoss(), [EpochLine("teacher")]).FitAsync(teacher, null, teacherData, cancellationToken: cancellationToken).ConfigureAwait(false);
        Directory.CreateDirectory(settings.CacheDirectory);
        string temp = path + ".tmp";
        using (FileStream stream = File.Create(temp))
        {
            teacher.SaveWeights(stream);
        }
        File.Move(temp, path, overwrite: true);
        return (teacher, clock.Elapsed.TotalSeconds);
    }

    private static string TeacherCacheKey(DistillSettings settings, LabeledImageSet train)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(MemoryMarshal.AsBytes(train.Pixels.AsSpan()));
        hash.AppendData(MemoryMarshal.AsBytes(train.Labels.AsSpan()));
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{settings.Teacher}|{settings.TeacherEpochs}|{settings.BatchSize}|{settings.TeacherLearningRate}|{settings.TeacherAugmentation}|{torch.__version__}")));
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    private async Task<(double Accuracy, double Agreement, double Ece, double Seconds, long Size, TorchModel Model)> TrainStudentAsync(
        int seed, ITeacher teacher, LabeledImageSet train, LabeledImageSet test, float[] teacherTest, torch.Device device, bool distil, CancellationToken cancellationToken)
    {
        string label = $"{(distil ? "distilled" : "scratch")} seed {seed}";
        TorchModel student = TorchModel.FromPreset(settings.Student, ImageShape, 10, seed, device);
        var clock = Stopwatch.StartNew();
        IDistillationLoss loss = distil && Method.Kd ? CreateLoss(StudentOptions(seed, true)) : new HardLabelLoss();
        List<FeatureDistillationLoss> features = distil ? CreateFeatureLosses() : [];
        try
        {
            var trainer = new TorchDistiller(StudentOptions(seed, distil), loss, [EpochLine(label)]) { FeatureLosses = features, HintEpochs = distil ? settings.HintEpochs : 0 };
            if (distil && _targets is not null)
            {
                await trainer.FitFromTargetsAsync(student, _targets, train, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await trainer.FitAsync(student, distil ? teacher : null, train, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            // The adapters (FitNets) are not part of the student: they are dropped here, never saved or exported.
            features.ForEach(f => f.Dispose());
        }
        double seconds = clock.Elapsed.TotalSeconds;
        float[] logits = PredictAll(student, test);
        string file = Path.Combine(settings.OutputDirectory, $"student-{(distil ? Method.ToString().Replace('+', '-') : "scratch")}-seed{seed}.weights");
        string temp = file + ".tmp";
        using (FileStream stream = File.Create(temp))
        {
            student.SaveWeights(stream);
        }
        File.Move(temp, file, overwrite: true);
        return (ClassificationMetrics.Accuracy(logits, test.Labels, 10), ClassificationMetrics.Agreement(logits, teacherTest, 10),
            ClassificationMetrics.ExpectedCalibrationError(logits, test.Labels, 10), seconds, new FileInfo(file).Length, student);
    }

    private ProgressCallback EpochLine(string label) =>
        new(new SyncProgress(p =>
        {
            if (p.Summary is { } s)
            {
                string terms = string.Join(" ", s.TrainLoss.Where(kv => kv.Key is not ("total" or "alpha" or "temperature")).OrderBy(kv => kv.Key, StringComparer.Ordinal)
                    .Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:G4}")));
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {label}: epoch {s.Epoch + 1}/{p.Epochs} loss {s.TrainLoss.GetValueOrDefault("total"):F4} [{terms}] ({s.Duration.TotalSeconds:F1} s, {s.SamplesPerSecond:F0} samples/s)"));
            }
        }));

    private ModelReport Report(string architecture, ITeacher model, long sizeBytes, double[] accuracies, double? agreement, double ece, double seconds, LabeledImageSet test)
    {
        LatencyResult one = LatencyProbe.Measure(model, test, 1, settings.LatencyIterations);
        LatencyResult batch = LatencyProbe.Measure(model, test, Math.Min(64, test.Count), Math.Max(10, settings.LatencyIterations / 4));
        double mean = accuracies.Average();
        double std = accuracies.Length > 1 ? Math.Sqrt(accuracies.Sum(a => (a - mean) * (a - mean)) / (accuracies.Length - 1)) : 0;
        return new ModelReport(architecture, mean, accuracies, std, model.Metadata.ParameterCount ?? 0, sizeBytes,
            new LatencyMs(one.P50, one.P99), new LatencyMs(batch.P50, batch.P99), batch.SamplesPerSecond, agreement, ece, seconds);
    }

    private static float[] PredictAll(ITeacher model, LabeledImageSet data)
    {
        var all = new List<float>(data.Count * 10);
        foreach (Batch batch in data.GetBatches(1000, shuffle: false, 0, 0))
        {
            all.AddRange(LatencyProbe.Infer(model, batch.Inputs).Logits.Data.ToArray());
        }
        return [.. all];
    }

    /// <summary>Reports synchronously on the training thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
