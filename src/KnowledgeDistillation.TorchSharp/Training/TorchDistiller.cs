using System.Diagnostics;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Metrics;
using KnowledgeDistillation.TorchSharp.Losses;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Optimizers;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.Training;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Training;

/// <summary>
/// Trains a TorchSharp student from a teacher (or from labels alone) over a batch source: AdamW or SGD with momentum,
/// warm-up and decay of the learning rate, gradient clipping and accumulation (with the loss normalised by the rows of
/// the whole accumulated batch), seeded determinism, cancellation, callbacks, and resumable checkpoints.
/// </summary>
/// <remarks>
/// The logit loss runs as fused CPU kernels: the student's logits are read, the loss and d(loss)/d(logits) are
/// computed in one pass, and the gradient enters libtorch's autograd through the surrogate <c>Σ logits ⊙ g</c>, whose
/// gradient with respect to the logits is exactly <c>g</c> (the role a custom autograd function would play).
/// On CUDA, Hinton and hard-label losses run as TorchSharp operations instead (see <see cref="LossPath"/>).
/// </remarks>
public sealed partial class TorchDistiller
{
    private readonly DistillationOptions _options;
    private readonly IDistillationLoss _loss;
    private readonly IDistillationCallback[] _callbacks;
    private readonly ILogger _logger;

    /// <summary>Creates a trainer.</summary>
    /// <param name="options">Training options; validated before any work.</param>
    /// <param name="loss">The logit loss; null means Hinton KD with <paramref name="options"/>' α and temperature.</param>
    /// <param name="callbacks">Callbacks, called in order.</param>
    /// <param name="logger">A logger.</param>
    public TorchDistiller(DistillationOptions options, IDistillationLoss? loss = null, IEnumerable<IDistillationCallback>? callbacks = null, ILogger<TorchDistiller>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _loss = loss ?? new HintonDistillationLoss(options.AlphaSchedule(), options.TemperatureSchedule());
        _callbacks = callbacks?.ToArray() ?? [];
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Where the logit loss is computed. <value>The default value is <see cref="LogitLossPath.Auto"/>.</value></summary>
    public LogitLossPath LossPath { get; init; } = LogitLossPath.Auto;

    /// <summary>Rows per evaluation batch. <value>The default value is 1000.</value></summary>
    public int EvaluationBatchSize { get; init; } = 1000;

    /// <summary>The loss being optimised.</summary>
    public IDistillationLoss Loss => _loss;

    /// <summary>Number of optimisation steps per epoch for a data set of <paramref name="samples"/> samples.</summary>
    public long StepsPerEpoch(int samples)
    {
        long microBatches = (samples + (long)_options.BatchSize - 1) / _options.BatchSize;
        return (microBatches + _options.GradientAccumulationSteps - 1) / _options.GradientAccumulationSteps;
    }

    /// <summary>
    /// Trains <paramref name="student"/>. Everything is validated before the first step: options, shapes, class counts,
    /// whether the loss needs a teacher, and the checkpoint to resume from.
    /// </summary>
    /// <param name="student">The student (trained in place).</param>
    /// <param name="teacher">The teacher; null when the loss needs none (training from scratch).</param>
    /// <param name="train">Training data.</param>
    /// <param name="validation">Evaluation data for per-epoch metrics (<c>val_accuracy</c>, <c>val_ece</c>, and with a teacher <c>val_agreement</c>, <c>val_kl_to_teacher</c>).</param>
    /// <param name="resumeFrom">A checkpoint written by this trainer (same seed); training continues after its last epoch.</param>
    /// <param name="cancellationToken">Stops training between micro-batches with <see cref="OperationCanceledException"/>.</param>
    public Task<DistillationHistory> FitAsync(
        TorchModel student, ITeacher? teacher, IBatchSource train, IBatchSource? validation = null,
        string? resumeFrom = null, CancellationToken cancellationToken = default) =>
        FitCoreAsync(student, teacher, null, train, validation, resumeFrom, cancellationToken);

    /// <summary>
    /// Trains <paramref name="student"/> from precomputed teacher targets (an offline teacher cache) looked up by each
    /// batch's sample indices, instead of running a teacher. A dense float32 cache gives the same loss values as the live
    /// teacher; a top-k cache needs a loss that accepts sparse targets (<see cref="TopKHintonDistillationLoss"/>).
    /// Before the first step the targets are checked against <paramref name="train"/> (same data set) and the loss.
    /// </summary>
    /// <param name="student">The student (trained in place).</param>
    /// <param name="teacherTargets">The teacher's targets for every sample of <paramref name="train"/>.</param>
    /// <param name="train">Training data: exactly the data set the targets were computed on.</param>
    /// <param name="validation">Evaluation data for <c>val_accuracy</c> and <c>val_ece</c> (no teacher metrics: there is no live teacher).</param>
    /// <param name="resumeFrom">A checkpoint written by this trainer (same seed).</param>
    /// <param name="cancellationToken">Stops training between micro-batches.</param>
    public Task<DistillationHistory> FitFromTargetsAsync(
        TorchModel student, ITeacherTargetSource teacherTargets, IBatchSource train, IBatchSource? validation = null,
        string? resumeFrom = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(teacherTargets);
        return FitCoreAsync(student, null, teacherTargets, train, validation, resumeFrom, cancellationToken);
    }

    private async Task<DistillationHistory> FitCoreAsync(
        TorchModel student, ITeacher? teacher, ITeacherTargetSource? targetSource, IBatchSource train, IBatchSource? validation,
        string? resumeFrom, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(train);
        TorchSharpRuntime.EnsureInitialized();
        int classes = student.Metadata.ClassCount;
        ValidateSetup(student, teacher, train, validation, classes, targetSource);
        if (targetSource is not null && HasFeatureLosses)
        {
            throw new ArgumentException(
                $"Feature losses ({string.Join(", ", FeatureLosses.Select(l => l.Name))}) need a live teacher's layers; a teacher target source (cache) holds logits only. Train with FitAsync and the teacher instead.", nameof(targetSource));
        }
        ValidateFeatureSetup(student, teacher);
        long stepsPerEpoch = StepsPerEpoch(train.Count);
        long totalSteps = stepsPerEpoch * _options.Epochs;
        _options.Validate(totalSteps);
        if (_options.Threads is { } threads)
        {
            torch.set_num_threads(threads);
        }

        if (HasFeatureLosses)
        {
            await InitializeFeatureLossesAsync(student, teacher!, train, cancellationToken).ConfigureAwait(false);
        }
        using IStepOptimizer optimizer = CreateOptimizer(student);
        var history = new DistillationHistory();
        int startEpoch = 0;
        long step = 0;
        if (resumeFrom is not null)
        {
            if (FeatureLosses.Any(l => l.Parameters.Count > 0))
            {
                throw new NotSupportedException("Resuming is not supported with feature losses that train adapters (FitNets): checkpoints hold the student, not the adapters. Start the run again.");
            }
            (startEpoch, step) = Restore(resumeFrom, student, optimizer, history);
        }

        var control = new Control(this, student, optimizer, totalSteps);
        control.Step = step;
        control.History = history;
        var clock = Stopwatch.StartNew();
        TorchModel? torchTeacher = teacher as TorchModel;
        torchTeacher?.Module.eval();
        float[]? validationTeacherLogits = null;
        foreach (IDistillationCallback callback in _callbacks)
        {
            callback.OnTrainingStarted(startEpoch, _options.Epochs, control);
        }

        try
        {
            for (int epoch = startEpoch; epoch < _options.Epochs && control.StopReason is null; epoch++)
            {
                var epochClock = Stopwatch.StartNew();
                // Dropout and other randomness depend on (seed, epoch) only, so a resumed run matches an uninterrupted one.
                torch.manual_seed(unchecked((_options.Seed * 7919L) + epoch));
                student.Module.train();
                bool hintStage = epoch < HintEpochs;
                foreach (var featureLoss in FeatureLosses)
                {
                    featureLoss.Train(true);
                }
                var sums = new Dictionary<string, double>();
                int stepsThisEpoch = 0;
                double lr = 0;
                int samples = 0;
                using var batches = train.GetBatches(_options.BatchSize, shuffle: true, _options.Seed, epoch).GetEnumerator();
                bool more = batches.MoveNext();
                while (more)
                {
                    // One optimisation step: up to GradientAccumulationSteps micro-batches, normalised by all their rows.
                    var group = new List<Batch>(_options.GradientAccumulationSteps);
                    while (more && group.Count < _options.GradientAccumulationSteps)
                    {
                        group.Add(batches.Current);
                        more = batches.MoveNext();
                    }
                    float normalizer = group.Sum(b => b.Labels.Length);
                    var stepTerms = new Dictionary<string, float>();
                    foreach (Batch batch in group)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        bool needLogits = _loss.RequiresTeacher && !hintStage;
                        TeacherTargets? teacherTargets = null;
                        ModelOutput? teacherOutput = null;
                        if (targetSource is not null)
                        {
                            teacherTargets = needLogits ? await GetTargetsAsync(targetSource, batch, classes, cancellationToken).ConfigureAwait(false) : null;
                        }
                        else if (teacher is not null && torchTeacher is null && (HasFeatureLosses || needLogits))
                        {
                            teacherOutput = await InferTeacherAsync(teacher, batch, classes, HasFeatureLosses ? TeacherFeatureNames : null, cancellationToken).ConfigureAwait(false);
                            teacherTargets = TeacherTargets.Dense(teacherOutput.Logits);
                        }
                        LossValue value = MicroStep(student, torchTeacher, teacherTargets, teacherOutput, batch, classes, step, totalSteps, normalizer, hintStage);
                        foreach ((string key, float v) in value.Terms)
                        {
                            stepTerms[key] = stepTerms.GetValueOrDefault(key) + (IsRate(key) ? v * batch.Labels.Length / normalizer : v);
                        }
                        stepTerms["total"] = stepTerms.GetValueOrDefault("total") + value.Total;
                        samples += batch.Labels.Length;
                    }
                    lr = ApplyStep(student, optimizer, step, totalSteps);
                    step++;
                    control.Step = step;
                    stepsThisEpoch++;
                    foreach ((string key, float v) in stepTerms)
                    {
                        sums[key] = sums.GetValueOrDefault(key) + v;
                    }
                    foreach (IDistillationCallback callback in _callbacks)
                    {
                        callback.OnStepCompleted(step, stepTerms, control);
                    }
                }

                var trainLoss = sums.ToDictionary(kv => kv.Key, kv => kv.Value / Math.Max(1, stepsThisEpoch));
                var metrics = new Dictionary<string, double>();
                if (validation is not null)
                {
                    if (torchTeacher is not null || teacher is not null)
                    {
                        validationTeacherLogits ??= await PredictAllAsync(teacher!, validation, cancellationToken).ConfigureAwait(false);
                    }
                    float[] studentLogits = await PredictAllAsync(student, validation, cancellationToken).ConfigureAwait(false);
                    int[] labels = AllLabels(validation);
                    metrics["val_accuracy"] = ClassificationMetrics.Accuracy(studentLogits, labels, classes);
                    metrics["val_ece"] = ClassificationMetrics.ExpectedCalibrationError(studentLogits, labels, classes);
                    if (validationTeacherLogits is not null)
                    {
                        metrics["val_agreement"] = ClassificationMetrics.Agreement(studentLogits, validationTeacherLogits, classes);
                        metrics["val_kl_to_teacher"] = ClassificationMetrics.MeanKlToTeacher(studentLogits, validationTeacherLogits, classes);
                    }
                }
                epochClock.Stop();
                var summary = new EpochSummary(epoch, step, trainLoss, metrics, lr, epochClock.Elapsed, samples / Math.Max(1e-9, epochClock.Elapsed.TotalSeconds));
                history.Add(summary);
                control.EpochsCompleted = epoch + 1;
                LogEpoch(_logger, epoch + 1, _options.Epochs, trainLoss.GetValueOrDefault("total"), metrics.GetValueOrDefault("val_accuracy", double.NaN), epochClock.Elapsed.TotalSeconds);
                foreach (IDistillationCallback callback in _callbacks)
                {
                    callback.OnEpochCompleted(summary, control);
                }
            }
        }
        finally
        {
            history.StopReason = control.StopReason;
            history.Duration = clock.Elapsed;
            foreach (IDistillationCallback callback in _callbacks)
            {
                callback.OnTrainingCompleted(history);
            }
        }
        return history;
    }

    // Terms such as alpha and temperature are rates, not sums: average them over the micro-batches by rows.
    private static bool IsRate(string key) => key.EndsWith("alpha", StringComparison.Ordinal) || key.EndsWith("temperature", StringComparison.Ordinal) || key.EndsWith(".weight", StringComparison.Ordinal);

    private LossValue MicroStep(TorchModel student, TorchModel? torchTeacher, TeacherTargets? teacherCpu, ModelOutput? teacherOutput, Batch batch, int classes, long step, long totalSteps, float normalizer, bool hintStage)
    {
        using var scope = torch.NewDisposeScope();
        Tensor x = student.ToInputTensor(batch.Inputs);
        Tensor? teacherLogits = null;
        Dictionary<string, Tensor>? teacherFeatures = HasFeatureLosses ? new() : null;
        if (torchTeacher is not null && ((_loss.RequiresTeacher && !hintStage) || HasFeatureLosses))
        {
            using var noGrad = torch.no_grad();
            Tensor tx = torchTeacher.Device == student.Device ? x : x.to(torchTeacher.Device);
            teacherLogits = torchTeacher.Forward(tx, teacherFeatures is not null ? TeacherFeatureNames : null, teacherFeatures).to(student.Device);
            CheckLogits(teacherLogits.shape, batch.Labels.Length, classes, "teacher");
            if (teacherFeatures is not null && torchTeacher.Device != student.Device)
            {
                teacherFeatures = teacherFeatures.ToDictionary(kv => kv.Key, kv => kv.Value.to(student.Device));
            }
        }
        else
        {
            if (teacherFeatures is not null && teacherOutput is not null)
            {
                teacherFeatures = TeacherFeaturesFromCpu(teacherOutput, TeacherFeatureNames, student.Device);
            }
            if (teacherCpu?.Logits is { } dense && UseTorchOperations(student))
            {
                teacherLogits = torch.tensor(dense.Data.ToArray(), [dense.Rows, classes]).to(student.Device);
            }
        }
        Dictionary<string, Tensor>? studentFeatures = HasFeatureLosses ? new() : null;
        Tensor logits = student.Forward(x, HasFeatureLosses ? StudentFeatureNames : null, studentFeatures);
        CheckLogits(logits.shape, batch.Labels.Length, classes, "student");
        (Tensor? featureTotal, Dictionary<string, float> featureTerms) = HasFeatureLosses
            ? ComputeFeatureTerms(studentFeatures!, teacherFeatures!, batch.Labels.Length / normalizer)
            : (null, new Dictionary<string, float>());

        if (hintStage)
        {
            // FitNets stage 1: only the feature (hint) terms.
            featureTotal!.backward();
            return Combine(null, featureTotal, featureTerms);
        }

        if (UseTorchOperations(student) && _loss is HintonDistillationLoss or HardLabelLoss)
        {
            return Combine(TorchOpsStep(logits, teacherLogits, batch, step, totalSteps, normalizer, featureTotal), featureTotal, featureTerms);
        }

        float[] studentCpu = logits.detach().to(CPU).data<float>().ToArray();
        ReadOnlySpan<float> teacherValues = teacherLogits is not null
            ? teacherLogits.detach().to(CPU).data<float>().ToArray()
            : teacherCpu?.Logits is { } cpuLogits ? cpuLogits.Data.Span : [];
        var gradient = new float[studentCpu.Length];
        var inputs = new LossInputs(studentCpu, teacherValues, batch.Labels, classes, step, totalSteps, normalizer)
        {
            TeacherTopK = teacherCpu?.K ?? 0,
            TeacherTopKIndices = teacherCpu is { IsTopK: true } ? teacherCpu.TopKIndices.Span : [],
            TeacherTopKValues = teacherCpu is { IsTopK: true } ? teacherCpu.TopKValues.Span : [],
            TeacherTopKValueKind = teacherCpu?.ValueKind ?? default,
        };
        LossValue value = _loss.Compute(inputs, gradient);
        Tensor g = torch.tensor(gradient, logits.shape).to(logits.device);
        Tensor surrogate = logits.mul(g).sum();
        (featureTotal is null ? surrogate : surrogate.add(featureTotal, TorchScalars.One)).backward();
        return Combine(value, featureTotal, featureTerms);
    }

    private LossValue TorchOpsStep(Tensor logits, Tensor? teacherLogits, Batch batch, long step, long totalSteps, float normalizer, Tensor? featureTotal = null)
    {
        Tensor labels = torch.tensor(batch.Labels.Select(l => (long)l).ToArray()).to(logits.device);
        (float alpha, float temperature) = _loss is HintonDistillationLoss h
            ? (h.Alpha.ValueAt(step, totalSteps), h.Temperature.ValueAt(step, totalSteps))
            : (0f, 1f);
        (Tensor total, Tensor kd, Tensor ce) = TorchLogitLosses.Hinton(logits, teacherLogits ?? logits, labels, temperature, alpha, normalizer);
        (featureTotal is null ? total : total.add(featureTotal, TorchScalars.One)).backward();
        var terms = _loss is HintonDistillationLoss
            ? new Dictionary<string, float> { ["kd"] = kd.item<float>(), ["ce"] = ce.item<float>(), ["alpha"] = alpha, ["temperature"] = temperature }
            : new Dictionary<string, float> { ["ce"] = ce.item<float>() };
        return new LossValue(total.item<float>(), terms);
    }

    private bool UseTorchOperations(TorchModel student) =>
        LossPath == LogitLossPath.TorchOperations || (LossPath == LogitLossPath.Auto && student.Device.type != DeviceType.CPU);

    private double ApplyStep(TorchModel student, IStepOptimizer optimizer, long step, long totalSteps)
    {
        if (_options.GradientClipNorm is { } clip)
        {
            // Its own scope: the returned norm tensor must not outlive the step.
            using var clipScope = torch.NewDisposeScope();
            nn.utils.clip_grad_norm_(TrainableParameters(student), clip);
        }
        double lr = LearningRates.At(step, totalSteps, _options.LearningRate, _options.WarmupFraction, _options.LearningRateSchedule);
        optimizer.Step(lr);
        optimizer.ZeroGrad();
        return lr;
    }

    // This library's optimizers, not torch.optim: see StableOptimizer for the TorchSharp Scalar lifetime bug they avoid.
    private IStepOptimizer CreateOptimizer(TorchModel student) => _options.Optimizer switch
    {
        OptimizerKind.Sgd => new StableSgd(TrainableParameters(student), _options.Momentum, _options.WeightDecay),
        _ => new StableAdamW(TrainableParameters(student), _options.WeightDecay),
    };

    private static async Task<ModelOutput> InferTeacherAsync(ITeacher teacher, Batch batch, int classes, IReadOnlyCollection<string>? intermediates, CancellationToken cancellationToken)
    {
        ModelOutput output = await teacher.InferAsync(batch.Inputs, intermediates, cancellationToken).ConfigureAwait(false);
        if (output.Logits.Shape.Count != 2 || output.Logits.Shape[0] != batch.Labels.Length || output.Logits.Shape[1] != classes)
        {
            throw new InvalidOperationException(
                $"Teacher '{teacher.Metadata.Name}' returned logits of shape {output.Logits.ShapeText} for a batch of {batch.Labels.Length}; expected [{batch.Labels.Length}, {classes}].");
        }
        return output;
    }

    private static async Task<TeacherTargets> GetTargetsAsync(ITeacherTargetSource source, Batch batch, int classes, CancellationToken cancellationToken)
    {
        TeacherTargets targets = await source.GetTargetsAsync(batch, cancellationToken).ConfigureAwait(false);
        if (targets.Rows != batch.Labels.Length || targets.Classes != classes)
        {
            throw new InvalidOperationException(
                $"Teacher targets '{source.TeacherId}' gave {targets.Rows} rows of {targets.Classes} classes for a batch of {batch.Labels.Length}; expected {classes} classes.");
        }
        return targets;
    }

    // A loss accepts top-k targets when every term that needs a teacher does.
    private static bool AcceptsTopK(IDistillationLoss loss) =>
        !loss.RequiresTeacher || loss is TopKHintonDistillationLoss || (loss is CompositeDistillationLoss c && c.Terms.All(t => AcceptsTopK(t.Loss)));

    private async Task<float[]> PredictAllAsync(ITeacher model, IBatchSource data, CancellationToken cancellationToken)
    {
        var all = new float[(long)data.Count * data.ClassCount];
        int at = 0;
        foreach (Batch batch in data.GetBatches(EvaluationBatchSize, shuffle: false, 0, 0))
        {
            cancellationToken.ThrowIfCancellationRequested();
            ModelOutput output = await model.InferAsync(batch.Inputs, null, cancellationToken).ConfigureAwait(false);
            output.Logits.Data.Span.CopyTo(all.AsSpan(at));
            at += output.Logits.Data.Length;
        }
        return all;
    }

    private static int[] AllLabels(IBatchSource data) =>
        data.GetBatches(int.MaxValue, shuffle: false, 0, 0).SelectMany(b => b.Labels).ToArray();

    private void ValidateSetup(TorchModel student, ITeacher? teacher, IBatchSource train, IBatchSource? validation, int classes, ITeacherTargetSource? targets)
    {
        if (targets is not null)
        {
            if (targets.ClassCount != classes)
            {
                throw new ArgumentException($"The teacher targets '{targets.TeacherId}' have {targets.ClassCount} classes but student '{student.Metadata.Name}' has {classes}.", "teacherTargets");
            }
            if (targets.IsTopK && !AcceptsTopK(_loss))
            {
                throw new ArgumentException(
                    $"The teacher targets '{targets.TeacherId}' are top-k, but loss '{_loss.Name}' needs dense teacher logits. Use TopKHintonDistillationLoss, or a float32/float16 cache.", "teacherTargets");
            }
            targets.EnsureMatches(train);
        }
        if (train.Count == 0)
        {
            throw new ArgumentException("The training data set is empty: there is nothing to train on.", nameof(train));
        }
        if (train.ClassCount != classes)
        {
            throw new ArgumentException($"The training data has {train.ClassCount} classes but student '{student.Metadata.Name}' has {classes}.", nameof(train));
        }
        if (!train.SampleShape.SequenceEqual(student.InputShape))
        {
            throw new ArgumentException(
                $"The training data's samples have shape [{string.Join(", ", train.SampleShape)}] but student '{student.Metadata.Name}' expects [{string.Join(", ", student.InputShape)}].", nameof(train));
        }
        if (validation is not null && (validation.ClassCount != classes || !validation.SampleShape.SequenceEqual(student.InputShape)))
        {
            throw new ArgumentException($"The validation data ({validation.ClassCount} classes, samples [{string.Join(", ", validation.SampleShape)}]) does not match the training data.", nameof(validation));
        }
        if (_loss.RequiresTeacher && teacher is null && targets is null)
        {
            throw new ArgumentException($"Loss '{_loss.Name}' distils from a teacher, but no teacher was given. Pass a teacher, or use HardLabelLoss to train from scratch.", nameof(teacher));
        }
        if (teacher is not null && teacher.Metadata.ClassCount != classes)
        {
            throw new ArgumentException(
                $"Teacher '{teacher.Metadata.Name}' has {teacher.Metadata.ClassCount} classes but student '{student.Metadata.Name}' has {classes}; they must agree.", nameof(teacher));
        }
        if (teacher is TorchModel t && !t.InputShape.SequenceEqual(student.InputShape))
        {
            throw new ArgumentException(
                $"Teacher '{t.Metadata.Name}' expects inputs [{string.Join(", ", t.InputShape)}] but student '{student.Metadata.Name}' expects [{string.Join(", ", student.InputShape)}].", nameof(teacher));
        }
    }

    private static void CheckLogits(long[] shape, int rows, int classes, string who)
    {
        if (shape.Length != 2 || shape[0] != rows || shape[1] != classes)
        {
            throw new InvalidOperationException($"The {who} produced logits of shape [{string.Join(", ", shape)}]; expected [{rows}, {classes}].");
        }
    }

    private (int Epoch, long Step) Restore(string path, TorchModel student, IStepOptimizer optimizer, DistillationHistory history)
    {
        TrainingCheckpoint checkpoint = TrainingCheckpoint.Load(path);
        CheckpointHeader header = checkpoint.Header;
        if (header.Seed != _options.Seed)
        {
            throw new ArgumentException($"Checkpoint '{path}' was written by a run with seed {header.Seed}; resume with the same seed (options have {_options.Seed}).", nameof(path));
        }
        if (header.Optimizer != optimizer.Name)
        {
            throw new ArgumentException($"Checkpoint '{path}' holds {header.Optimizer} state but the options ask for {optimizer.Name}.", nameof(path));
        }
        using var optimizerBackup = new MemoryStream();
        using (var w = new BinaryWriter(optimizerBackup, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            optimizer.SaveState(w);
        }
        using var studentBackup = new MemoryStream();
        student.SaveWeights(studentBackup);
        try
        {
            using (var weights = new MemoryStream(checkpoint.StudentWeights))
            {
                student.LoadWeights(weights);
            }
            using var state = new BinaryReader(new MemoryStream(checkpoint.OptimizerState));
            optimizer.LoadState(state);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            studentBackup.Position = 0;
            student.LoadWeights(studentBackup);
            optimizerBackup.Position = 0;
            optimizer.LoadState(new BinaryReader(optimizerBackup));
            throw new InvalidDataException($"Checkpoint '{path}' does not fit this student/optimizer ({ex.Message}); nothing was changed.", ex);
        }
        foreach (EpochSummary e in header.History)
        {
            history.Add(e);
        }
        history.ResumedFromEpoch = header.EpochsCompleted;
        return (header.EpochsCompleted, header.Step);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "epoch {Epoch}/{Epochs}: loss {Loss:F4}, val_accuracy {Accuracy:P2} ({Seconds:F1} s)")]
    private static partial void LogEpoch(ILogger logger, int epoch, int epochs, double loss, double accuracy, double seconds);

    private sealed class Control(TorchDistiller owner, TorchModel student, IStepOptimizer optimizer, long totalSteps) : ITrainingControl
    {
        public string? StopReason { get; private set; }

        public long Step { get; set; }

        public int EpochsCompleted { get; set; }

        public DistillationHistory History { get; set; } = new();

        public long TotalSteps => totalSteps;

        public void RequestStop(string reason) => StopReason ??= reason;

        public void SaveCheckpoint(string path)
        {
            using var weights = new MemoryStream();
            student.SaveWeights(weights);
            using var state = new MemoryStream();
            using (var w = new BinaryWriter(state, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                optimizer.SaveState(w);
            }
            new TrainingCheckpoint
            {
                Header = new CheckpointHeader
                {
                    EpochsCompleted = EpochsCompleted,
                    Step = Step,
                    Seed = owner._options.Seed,
                    StudentName = student.Metadata.Name,
                    Optimizer = optimizer.Name,
                    CreatedUtc = DateTimeOffset.UtcNow,
                    History = History.Epochs.ToArray(),
                },
                StudentWeights = weights.ToArray(),
                OptimizerState = state.ToArray(),
            }.Save(path);
        }
    }
}
