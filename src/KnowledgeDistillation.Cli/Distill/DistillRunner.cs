using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Caching;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Datasets;
using KnowledgeDistillation.IO;
using KnowledgeDistillation.Metrics;
using KnowledgeDistillation.Teachers;
using KnowledgeDistillation.TorchSharp.Features;
using KnowledgeDistillation.TorchSharp.Losses;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Recipes;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.TorchSharp.Teachers;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;
using TorchSharp;

namespace KnowledgeDistillation.Cli.Distill;

/// <summary>
/// The main job, as parse → plan → run → report: the plan is a <see cref="DistillationRecipe"/> and a <see cref="TeacherPlan"/>
/// (validated before anything trains); the run trains (or loads from the <see cref="TeacherStore"/>) the teacher, then for
/// each seed a distilled student and the same student from scratch with the same budget, and evaluates all three on the
/// test set.
/// </summary>
internal sealed class DistillRunner(DistillSettings settings, TextWriter log)
{
    private static readonly int[] ImageShape = [1, 28, 28];

    /// <summary>What a rerun of the same command does after a failure or an interruption.</summary>
    internal const string RerunNote = "Finished students (their weights and results in --out) are kept: run the same command again to continue with the next one.";

    private TeacherPlan Teachers => TeacherPlan.For(settings);

    /// <summary>The recipe of the distilled students, from the CLI's options.</summary>
    internal DistillationRecipe Recipe => new()
    {
        Method = settings.Method,
        Loss = settings.Loss,
        Alpha = settings.Alpha,
        Temperature = settings.Temperature,
        Pairs = settings.Pairs,
        FeatureOptions = new FeatureMethodOptions { Weight = settings.FeatureWeight, AttentionMode = ParseAtMode() },
        HintEpochs = settings.HintEpochs,
    };

    public async Task<DistillReport> RunAsync(CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        DistillationRecipe recipe = Plan();
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
        CheckMemory(train, test);
        Directory.CreateDirectory(settings.OutputDirectory);
        string trainFingerprint = DataSetFingerprint.Compute(train).ContentSha256;
        string testFingerprint = DataSetFingerprint.Compute(test).ContentSha256;

        var members = new List<TorchModel>();
        var memberIds = new List<string>();
        double teacherSeconds = 0;
        long teacherBytes = 0;
        try
        {
            for (int member = 0; member < settings.Teachers; member++)
            {
                (TorchModel model, StoredTeacher stored) = await GetTeacherAsync(train, device, member, cancellationToken).ConfigureAwait(false);
                members.Add(model);
                memberIds.Add(TeacherStore.TeacherId(settings.Teacher, stored.Path));
                teacherSeconds += stored.TrainingTime.TotalSeconds;
                teacherBytes += new FileInfo(stored.Path).Length;
            }
        }
        catch
        {
            members.ForEach(m => m.Dispose());
            throw;
        }
        // One teacher runs on the device inside each training step; several become one EnsembleTeacher.
        using ITeacher teacher = members.Count == 1 ? members[0] : new EnsembleTeacher(members, new EnsembleTeacherOptions { Name = $"ensemble of {members.Count} × {settings.Teacher}" });
        using TeacherCache? cache = OpenTeacherCache(train);
        ITeacherSignal<Batch> signal = cache is null ? TeacherSignal.FromTeacher(teacher) : TeacherSignal.FromTargets(cache);
        // What the distilled students learn from: part of their resume key (the scratch students' does not include it).
        string signalId = cache is null
            ? $"teachers {string.Join(",", memberIds)}"
            : string.Create(CultureInfo.InvariantCulture, $"teacher cache {Path.GetFullPath(settings.TeacherCachePath!)} {cache.Format} k={cache.TopK} rows={cache.Count} of {memberIds[0]}");
        var run = new RunIdentity(trainFingerprint, testFingerprint, signalId, device.ToString(), torch.get_num_threads());

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

        var kd = new List<StudentResult>();
        var scratch = new List<StudentResult>();
        try
        {
            foreach (int seed in settings.Seeds)
            {
                kd.Add(await TrainStudentAsync(seed, recipe, signal, cache?.TopK ?? 0, teacher.Metadata.IntermediateNames, train, test, teacherTest, device, run, cancellationToken).ConfigureAwait(false));
                scratch.Add(await TrainStudentAsync(seed, null, null, 0, [], train, test, teacherTest, device, run, cancellationToken).ConfigureAwait(false));
                log.WriteLine($"seed {seed}: distilled {kd[^1].Accuracy:P2}, from scratch {scratch[^1].Accuracy:P2} ({(kd[^1].Accuracy - scratch[^1].Accuracy) * 100:+0.00;-0.00} pp)");
            }

            log.WriteLine("measuring latency…");
            ModelReport teacherReport = Report(
                members.Count == 1 ? settings.Teacher : teacher.Metadata.Name, teacher, teacherBytes, [teacherAccuracy], null,
                ClassificationMetrics.ExpectedCalibrationError(teacherTest, test.Labels, 10), teacherSeconds, test);
            ModelReport kdReport = Report(settings.Student, kd, test);
            ModelReport scratchReport = Report(settings.Student, scratch, test);
            DistillationOptions options = StudentOptions(0, true);
            return new DistillReport(
                "fashion-mnist", settings.Seeds, train.Count, test.Count, settings.Epochs,
                Math.Round(options.TemperatureSchedule().ValueAt(0, 1), 6), Math.Round(options.AlphaSchedule().ValueAt(0, 1), 6), settings.Temperature, settings.Alpha, settings.Loss,
                device.ToString(), torch.get_num_threads(), teacherReport, kdReport, scratchReport,
                (kdReport.Accuracy - scratchReport.Accuracy) * 100,
                $"{RuntimeInformation.OSDescription}, {Environment.ProcessorCount} cores, {RuntimeInformation.ProcessArchitecture}",
                DateTimeOffset.UtcNow, total.Elapsed.TotalSeconds)
            {
                Method = recipe.ParsedMethod.ToString(),
                Pairs = FeaturePairs(recipe).ToDictionary(kv => kv.Key, kv => string.Join(",", kv.Value)),
                HintEpochs = settings.HintEpochs,
                TeacherMemberAccuracies = members.Count > 1 ? memberAccuracies : null,
            };
        }
        finally
        {
            foreach (StudentResult s in kd.Concat(scratch))
            {
                s.Model.Dispose();
            }
        }
    }

    /// <summary>
    /// Validates every option and builds the recipe before anything is trained. Recipe errors are reported under the
    /// CLI option that caused them.
    /// </summary>
    internal DistillationRecipe Plan()
    {
        if (settings.Seeds.Count == 0)
        {
            throw new ArgumentException("--seeds is empty: give at least one seed (for example --seeds 0,1,2).");
        }
        if (settings.Seeds.Distinct().Count() != settings.Seeds.Count)
        {
            throw new ArgumentException($"--seeds {string.Join(',', settings.Seeds)} repeats a seed: give each seed once (a seed's students are trained once and kept under its number).");
        }
        OptionRules.Range("--teacher-epochs", settings.TeacherEpochs, 1, 1_000_000, "epochs of teacher training");
        OptionRules.Range("--epochs", settings.Epochs, 1, 1_000_000, "epochs of each student");
        OptionRules.Range("--hint-epochs", settings.HintEpochs, 0, 1_000_000, "FitNets hint epochs, part of --epochs");
        OptionRules.Range("--batch-size", settings.BatchSize, 1, 1 << 20, "images per step");
        OptionRules.Positive("--lr", settings.LearningRate, double.MaxValue, "the students' peak learning rate");
        OptionRules.Threads("--threads", settings.Threads);
        OptionRules.Range("--train-limit", settings.TrainLimit, 1, int.MaxValue, "training images used");
        OptionRules.Range("--test-limit", settings.TestLimit, 1, int.MaxValue, "test images used");
        OptionRules.Range("--teachers", settings.Teachers, 1, 16, "teachers trained for an ensemble");
        OptionRules.Range("--latency-iterations", settings.LatencyIterations, 1, 1_000_000, "timed inferences per model");
        if (settings.FeatureWeight is { } weight)
        {
            OptionRules.Between("--feature-weight", weight, 0, 1e9, "the weight of each feature term");
        }
        OptionRules.OutputFolder("--out", settings.OutputDirectory, "the students' weights");
        OptionRules.OutputFolder("--cache", settings.CacheDirectory, "trained teachers");
        OptionRules.InputFolder("--data", settings.DataDirectory, "the Fashion-MNIST IDX files");
        OptionRules.InputFolder("--teacher-cache", settings.TeacherCachePath, "the teacher cache (kd cache-teacher --out)");
        OptionRules.OutputFile("--json", settings.JsonPath, "the results");
        if (settings.Teachers > 1 && settings.TeacherCachePath is not null)
        {
            throw new ArgumentException($"--teachers {settings.Teachers} distils a live ensemble; --teacher-cache holds one teacher's outputs. Use one of the two.", "--teachers");
        }
        StudentOptions(0, true).Validate();
        DistillationRecipe recipe = OptionErrors(() =>
        {
            DistillationRecipe r = Recipe;
            r.Validate(settings.Epochs);
            return r;
        });
        DistillationMethod method = recipe.ParsedMethod;
        if (settings.Teachers > 1 && method.Features.Count > 0)
        {
            throw new ArgumentException($"--method {settings.Method} compares layers of one teacher; an ensemble (--teachers {settings.Teachers}) has no single set of layers. Use --method kd with --teachers.", "--teachers");
        }
        if (settings.TeacherCachePath is not null && method.Features.Count > 0)
        {
            throw new ArgumentException($"--teacher-cache holds the teacher's logits only; --method {settings.Method} also compares layers and needs the live teacher. Drop --teacher-cache or use --method kd.", "--teacher-cache");
        }
        // Architectures and layer names are checked against the real models (built for the check and disposed).
        using SequentialClassifier studentLayers = Build(settings.Student, "--student");
        using SequentialClassifier teacherLayers = Build(settings.Teacher, "--teacher");
        foreach ((_, IReadOnlyList<LayerPair> pairs) in FeaturePairs(recipe, studentLayers.LayerNames, teacherLayers.LayerNames))
        {
            OptionErrors(() => FeatureCapture.Validate(studentLayers, pairs.Select(p => p.Student), "student"));
            OptionErrors(() => FeatureCapture.Validate(teacherLayers, pairs.Select(p => p.Teacher), "teacher"));
        }
        return recipe;
    }

    // Built on libtorch's meta device: names and shapes to check, no weights (an architecture too large for the machine is refused by the memory check, not by this build).
    private static SequentialClassifier Build(string spec, string option) =>
        OptionErrors(() => ModelFootprint.BuildOnMeta(spec, ImageShape, 10), option);

    /// <summary>
    /// Refuses, before anything trains, a configuration whose estimated memory (<see cref="MemoryEstimate"/>: batch ×
    /// activations, parameters and optimiser state of the teacher and the student, the data) exceeds the memory this
    /// process may use (<see cref="MemoryLimit"/>).
    /// </summary>
    internal void CheckMemory(LabeledImageSet train, LabeledImageSet test)
    {
        MemoryLimit limit = settings.MemoryLimit ?? MemoryLimit.Detect();
        TeacherPlan plan = Teachers;
        bool trainTeacher = Enumerable.Range(0, settings.Teachers).Any(m => !File.Exists(plan.Store.PathFor(plan.Key(train, m))));
        long pixels = train.FeatureCount;
        // The parameters alone (weights, gradients, AdamW moments) are checked first: measuring activations builds the models for real.
        var models = new MemoryEstimate.Inputs(
            0, train.Count, test.Count, pixels, new ModelFootprint(ModelFootprint.ParameterCount(settings.Teacher, ImageShape, 10), 0, 0), settings.Teachers, trainTeacher, false,
            new ModelFootprint(ModelFootprint.ParameterCount(settings.Student, ImageShape, 10), 0, 0));
        MemoryEstimate estimate = MemoryEstimate.For(models, limit.Bytes);
        if (estimate.Bytes <= limit.Bytes)
        {
            var inputs = new MemoryEstimate.Inputs(
                settings.BatchSize, train.Count, test.Count, pixels, ModelFootprint.Measure(settings.Teacher, ImageShape, 10), settings.Teachers, trainTeacher,
                settings.TeacherCachePath is null, ModelFootprint.Measure(settings.Student, ImageShape, 10));
            estimate = MemoryEstimate.For(inputs, limit.Bytes);
        }
        if (estimate.Bytes > limit.Bytes)
        {
            string fix = estimate.LargestBatch >= 1
                ? string.Create(CultureInfo.InvariantCulture, $"Use --batch-size {estimate.LargestBatch} or less, or smaller --teacher/--student architectures.")
                : "The models alone do not fit: use smaller --teacher/--student architectures (or a machine with more memory).";
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"this configuration (--teacher {settings.Teacher}, --student {settings.Student}, --batch-size {settings.BatchSize}) needs an estimated {MemoryEstimate.Gib(estimate.Bytes)} at least ({estimate.DescribeParts()}), more than the {MemoryEstimate.Gib(limit.Bytes)} this process may use ({limit.Source}). {fix}"));
        }
    }

    private AttentionTransferMode ParseAtMode() => settings.AtMode.ToLowerInvariant() switch
    {
        "authors" => AttentionTransferMode.AuthorsCode,
        "paper" => AttentionTransferMode.PaperEquation,
        _ => throw new ArgumentException($"Unknown --at-mode '{settings.AtMode}'. Use authors (the authors' code, β = 1000) or paper (the paper's equation, β = 1).", "--at-mode"),
    };

    /// <summary>The layer pairs of each feature method of the recipe, for the student and teacher presets.</summary>
    internal IReadOnlyDictionary<string, IReadOnlyList<LayerPair>> FeaturePairs(DistillationRecipe recipe)
    {
        if (recipe.ParsedMethod.Features.Count == 0)
        {
            return new Dictionary<string, IReadOnlyList<LayerPair>>();
        }
        using SequentialClassifier student = Build(settings.Student, "--student");
        using SequentialClassifier teacher = Build(settings.Teacher, "--teacher");
        return FeaturePairs(recipe, student.LayerNames, teacher.LayerNames);
    }

    private static IReadOnlyDictionary<string, IReadOnlyList<LayerPair>> FeaturePairs(DistillationRecipe recipe, IReadOnlyList<string> student, IReadOnlyList<string> teacher) =>
        OptionErrors(() => recipe.LayerPairs(student, teacher));

    private DistillationOptions StudentOptions(int seed, bool distil) => new()
    {
        Epochs = settings.Epochs,
        BatchSize = settings.BatchSize,
        Seed = seed,
        LearningRate = settings.LearningRate,
        Optimizer = ParseOptimizer(settings.Optimizer),
        Temperature = settings.Temperature,
        Alpha = distil ? settings.Alpha : "0",
    };

    private static OptimizerKind ParseOptimizer(string name) => name.ToLowerInvariant() switch
    {
        "adamw" => OptimizerKind.AdamW,
        "sgd" => OptimizerKind.Sgd,
        _ => throw new ArgumentException($"Unknown optimizer '{name}'. Use 'adamw' or 'sgd'.", "--optimizer"),
    };

    /// <summary>Opens --teacher-cache, refusing a cache of another data set or another teacher than the one trained/loaded here.</summary>
    private TeacherCache? OpenTeacherCache(LabeledImageSet train)
    {
        if (settings.TeacherCachePath is not { } folder)
        {
            return null;
        }
        string teacherId = TeacherStore.TeacherId(settings.Teacher, Teachers.Store.PathFor(Teachers.Key(train)));
        TeacherCache cache;
        try
        {
            cache = TeacherCache.Open(folder, train, teacherId);
        }
        catch (InvalidOperationException ex)
        {
            throw new ArgumentException(ex.Message, "--teacher-cache", ex);
        }
        try
        {
            // The loss a top-k cache trains with is the one the recipe builds for it; check it now, before any training.
            _ = OptionErrors(() => Recipe.CreateLoss(cache.Provides, cache.TopK), "--loss");
        }
        catch
        {
            cache.Dispose();
            throw;
        }
        log.WriteLine($"distilled students read teacher targets from cache {folder}: {cache.Format}{(cache.TopK > 0 ? $" k={cache.TopK}" : "")}, {cache.Count} rows, {cache.SizeInBytes / 1024.0:F0} KiB");
        return cache;
    }

    private async Task<(TorchModel Teacher, StoredTeacher Stored)> GetTeacherAsync(LabeledImageSet train, torch.Device device, int member, CancellationToken cancellationToken)
    {
        TeacherPlan plan = Teachers;
        int seed = TeacherPlan.Seed(member);
        TorchModel teacher = TorchModel.FromPreset(settings.Teacher, ImageShape, 10, seed, device);
        try
        {
            StoredTeacher stored = await plan.Store.GetOrTrainAsync(plan.Key(train, member), teacher, async ct =>
            {
                log.WriteLine($"training teacher {settings.Teacher} (seed {seed}) for {settings.TeacherEpochs} epoch(s)…");
                var options = new DistillationOptions { Epochs = settings.TeacherEpochs, BatchSize = settings.BatchSize, Seed = seed, LearningRate = settings.TeacherLearningRate };
                // The teacher learns from randomly cropped and flipped images (it sees more than the student can); students train on plain images.
                IBatchSource data = settings.TeacherAugmentation ? new AugmentedImageSource(train, padding: 2, horizontalFlip: true) : train;
                try
                {
                    await new TorchDistiller(options, TorchLosses.HardLabel(), [EpochLine("teacher")]).FitAsync(teacher, null, data, cancellationToken: ct).ConfigureAwait(false);
                }
                catch (TrainingDivergedException ex)
                {
                    throw new TrainingDivergedException(string.Create(CultureInfo.InvariantCulture,
                        $"the teacher's loss diverged at step {ex.Step} of {ex.TotalSteps} (epoch {ex.Epoch}): {ex.Observation}. Its learning rate is fixed ({settings.TeacherLearningRate:G3}): try another --teacher architecture or another --batch-size."), ex);
                }
            }, log.WriteLine, cancellationToken).ConfigureAwait(false);
            return (teacher, stored);
        }
        catch
        {
            teacher.Dispose();
            throw;
        }
    }

    private async Task<StudentResult> TrainStudentAsync(
        int seed, DistillationRecipe? recipe, ITeacherSignal<Batch>? teacher, int teacherTopK, IReadOnlyList<string> teacherLayers, LabeledImageSet train, LabeledImageSet test, float[] teacherTest,
        torch.Device device, RunIdentity run, CancellationToken cancellationToken)
    {
        bool distil = recipe is not null;
        string label = $"{(distil ? "distilled" : "scratch")} seed {seed}";
        string stem = Path.Combine(settings.OutputDirectory, $"student-{(distil ? recipe!.ParsedMethod.ToString().Replace('+', '-') : "scratch")}-seed{seed}");
        string file = stem + WeightsFile.Extension;
        string recordPath = stem + ".json";
        (string key, string description) = StudentKey(seed, recipe, run);
        TorchModel student = TorchModel.FromPreset(settings.Student, ImageShape, 10, seed, device);
        try
        {
            if (TryResume(recordPath, file, key, student, label) is { } record)
            {
                float[] keptLogits = PredictAll(student, test);
                return new StudentResult(record.Accuracy, ClassificationMetrics.Agreement(keptLogits, teacherTest, 10), record.ExpectedCalibrationError, record.TrainSeconds, record.SizeBytes, student);
            }
        }
        catch
        {
            student.Dispose();
            throw;
        }
        var clock = Stopwatch.StartNew();
        DistillationOptions options = StudentOptions(seed, distil);
        TorchDistiller trainer = recipe is null
            ? new TorchDistiller(options, TorchLosses.HardLabel(), [EpochLine(label)])
            : recipe.CreateTrainer(options, student.Metadata.IntermediateNames, teacherLayers, [EpochLine(label)], teacher!.Provides, teacherTopK);
        try
        {
            await trainer.FitAsync(student, teacher, train, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (TrainingDivergedException ex)
        {
            student.Dispose();
            throw new TrainingDivergedException(string.Create(CultureInfo.InvariantCulture,
                $"the {label} student's loss diverged at step {ex.Step} of {ex.TotalSteps} (epoch {ex.Epoch}): {ex.Observation}. --lr {settings.LearningRate:G4} is too high for this student and loss: try a lower --lr (for example {settings.LearningRate / 10:G3}; the default is {DistillDefaults.LearningRate:G3})."), ex);
        }
        catch
        {
            student.Dispose();
            throw;
        }
        finally
        {
            // The adapters (FitNets) are not part of the student: they are dropped here, never saved or exported.
            foreach (FeatureDistillationLoss feature in trainer.FeatureLosses)
            {
                feature.Dispose();
            }
        }
        double seconds = clock.Elapsed.TotalSeconds;
        float[] logits = PredictAll(student, test);
        double accuracy = ClassificationMetrics.Accuracy(logits, test.Labels, 10);
        double ece = ClassificationMetrics.ExpectedCalibrationError(logits, test.Labels, 10);
        long size = WeightsFile.Save(student, file);
        // The record is written after the weights it names: a student counts as finished only once both are complete.
        var kept = new StudentRecord(StudentRecord.CurrentFormat, key, description, FileSha256(file), accuracy, ece, seconds, size);
        AtomicFile.WriteAllText(recordPath, JsonSerializer.Serialize(kept, CliJsonContext.Default.StudentRecord));
        log.WriteLine($"  {label}: weights and results kept in {file} and {Path.GetFileName(recordPath)}");
        return new StudentResult(accuracy, ClassificationMetrics.Agreement(logits, teacherTest, 10), ece, seconds, size, student);
    }

    /// <summary>
    /// Loads a student a previous run with the same options finished (its record's key matches, and the weights are the
    /// file the record names); null when there is none, or it does not match or is damaged (then the student is trained again).
    /// </summary>
    private StudentRecord? TryResume(string recordPath, string weightsPath, string key, TorchModel student, string label)
    {
        if (!File.Exists(recordPath))
        {
            return null;
        }
        StudentRecord? record;
        try
        {
            record = JsonSerializer.Deserialize(File.ReadAllText(recordPath), CliJsonContext.Default.StudentRecord);
        }
        catch (JsonException)
        {
            record = null;
        }
        string? reason = record switch
        {
            null => "its record is not readable",
            { Format: not StudentRecord.CurrentFormat } => $"its record has format {record.Format}",
            _ when record.Key != key => "it was trained with other options, data or teacher",
            _ when !File.Exists(weightsPath) => "its weights file is missing",
            _ when FileSha256(weightsPath) != record.WeightsSha256 => "its weights file is not the one its record names",
            _ => null,
        };
        if (reason is null)
        {
            try
            {
                WeightsFile.Load(student, weightsPath);
                log.WriteLine($"  {label}: finished in an earlier run with the same options; loaded from {weightsPath}");
                return record;
            }
            catch (InvalidDataException ex)
            {
                reason = ex.Message;
            }
        }
        log.WriteLine($"  {label}: {weightsPath} is not reused ({reason}); training it");
        return null;
    }

    /// <summary>The key of everything a student's training and results depend on, and the same in words.</summary>
    private (string Key, string Description) StudentKey(int seed, DistillationRecipe? recipe, RunIdentity run)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        var parts = new List<string>
        {
            "kd distill student v1", $"student {settings.Student}", $"seed {seed}", string.Create(c, $"epochs {settings.Epochs}"), string.Create(c, $"batch {settings.BatchSize}"),
            string.Create(c, $"lr {settings.LearningRate:R}"), $"optimizer {settings.Optimizer.ToLowerInvariant()}", $"train {run.Train}", $"test {run.Test}",
            $"device {run.Device}", string.Create(c, $"threads {run.Threads}"), $"torch {torch.__version__}", $"library {LibraryInfo.Version}",
        };
        if (recipe is null)
        {
            parts.Add("from scratch");
        }
        else
        {
            parts.AddRange([
                $"method {recipe.ParsedMethod}", $"loss {settings.Loss}", $"alpha {settings.Alpha}", $"temperature {settings.Temperature}", $"pairs {settings.Pairs}",
                string.Create(c, $"hint epochs {settings.HintEpochs}"), string.Create(c, $"feature weight {settings.FeatureWeight:R}"), $"at mode {settings.AtMode}", run.Teacher,
            ]);
        }
        string description = string.Join("; ", parts);
        return (Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(description))), description);
    }

    private static string FileSha256(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private ProgressCallback EpochLine(string label) =>
        new(new SyncProgress(p =>
        {
            if (p.Summary is { } s)
            {
                string terms = string.Join(" ", s.TrainLoss.Where(kv => kv.Key != "total").OrderBy(kv => kv.Key, StringComparer.Ordinal)
                    .Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:G4}")));
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {label}: epoch {s.Epoch + 1}/{p.Epochs} loss {s.TrainLoss.GetValueOrDefault("total"):F4} [{terms}] ({s.Duration.TotalSeconds:F1} s, {s.SamplesPerSecond:F0} samples/s)"));
            }
        }));

    private ModelReport Report(string architecture, List<StudentResult> students, LabeledImageSet test) =>
        Report(architecture, students[0].Model, students[0].Size, [.. students.Select(k => k.Accuracy)], students.Average(k => k.Agreement), students.Average(k => k.Ece), students.Average(k => k.Seconds), test);

    private ModelReport Report(string architecture, ITeacher model, long sizeBytes, double[] accuracies, double? agreement, double ece, double seconds, LabeledImageSet data)
    {
        LatencyResult one = LatencyProbe.Measure(model, data, 1, settings.LatencyIterations);
        LatencyResult batch = LatencyProbe.Measure(model, data, Math.Min(64, data.Count), Math.Max(10, settings.LatencyIterations / 4));
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

    /// <summary>Runs <paramref name="build"/>, reporting a recipe's argument errors under the CLI option that caused them.</summary>
    private static T OptionErrors<T>(Func<T> build, string? option = null)
    {
        try
        {
            return build();
        }
        catch (ArgumentException ex) when (option is not null || ex.ParamName is not null)
        {
            string name = option ?? ex.ParamName switch
            {
                nameof(DistillationRecipe.HintEpochs) => "--hint-epochs",
                nameof(DistillationRecipe.Pairs) or "pairs" or "names" => "--pairs",
                nameof(DistillationRecipe.FeatureOptions) => "--feature-weight",
                nameof(DistillationRecipe.Alpha) => "--alpha",
                nameof(DistillationRecipe.Temperature) => "--temperature",
                "method" => "--method",
                "context" => "--loss",
                _ => ex.ParamName!,
            };
            string message = ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", "", StringComparison.Ordinal);
            throw new ArgumentException(message, name, ex);
        }
    }

    private static void OptionErrors(Action check) => OptionErrors(() =>
    {
        check();
        return true;
    });

    private sealed record StudentResult(double Accuracy, double Agreement, double Ece, double Seconds, long Size, TorchModel Model);

    /// <summary>What every student of this run shares: the data, the teacher signal (for the distilled ones), the device and threads.</summary>
    private sealed record RunIdentity(string Train, string Test, string Teacher, string Device, int Threads);

    /// <summary>Reports synchronously on the training thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
