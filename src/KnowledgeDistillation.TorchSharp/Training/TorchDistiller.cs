using System.Diagnostics;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Metrics;
using KnowledgeDistillation.TorchSharp.Features;
using KnowledgeDistillation.TorchSharp.Losses;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Optimizers;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.TorchSharp.Teachers;
using KnowledgeDistillation.Training;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Training;

/// <summary>
/// The one training loop for every model kind (<see cref="ITorchModel{TBatch}"/>: image classifiers, language models):
/// a student learns from a teacher signal (<see cref="ITeacherSignal{TBatch}"/>: a model on the device, any
/// <see cref="ITeacher"/>, precomputed targets) or from labels alone, with AdamW or SGD with momentum, warm-up and decay of
/// the learning rate, gradient clipping and accumulation (the loss normalised by the counting rows of the whole accumulated
/// batch), seeded determinism, cancellation, callbacks, per-epoch evaluation, and resumable checkpoints.
/// </summary>
/// <remarks>
/// <para>The trainer knows no concrete teacher, loss or model: a teacher is a signal, a loss declares the targets it accepts
/// (<see cref="IDistillationLoss.AcceptedTargets"/>) and whether it has a TorchSharp form (<see cref="ITorchLogitLoss"/>), and a
/// model turns its batches into logit rows with labels and a mask.</para>
/// <para>On the fused CPU kernels the student's logits are read, the loss and d(loss)/d(logits) are computed in one pass,
/// and the gradient enters libtorch's autograd through the surrogate <c>Σ logits ⊙ g</c>, whose gradient with respect to
/// the logits is exactly <c>g</c>. The TorchSharp form keeps the logits on their device (see <see cref="LossPath"/>).</para>
/// </remarks>
public sealed partial class TorchDistiller
{
    private readonly DistillationOptions _options;
    private readonly IDistillationLoss _loss;
    private readonly IDistillationCallback[] _callbacks;
    private readonly ILogger _logger;

    /// <summary>Creates a trainer.</summary>
    /// <param name="options">Training options; validated before any work.</param>
    /// <param name="loss">The logit loss; null means Hinton KD with <paramref name="options"/>' α and temperature (<see cref="TorchLosses.Hinton"/>).</param>
    /// <param name="callbacks">Callbacks, called in order.</param>
    /// <param name="logger">A logger.</param>
    public TorchDistiller(DistillationOptions options, IDistillationLoss? loss = null, IEnumerable<IDistillationCallback>? callbacks = null, ILogger<TorchDistiller>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _loss = loss ?? TorchLosses.Hinton(options.AlphaSchedule(), options.TemperatureSchedule());
        _callbacks = callbacks?.ToArray() ?? [];
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Where the logit loss is computed. <value>The default value is <see cref="LogitLossPath.Auto"/>.</value></summary>
    public LogitLossPath LossPath { get; init; } = LogitLossPath.Auto;

    /// <summary>Rows (samples or sequences) per evaluation batch. <value>The default value is 1000.</value></summary>
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
    /// Trains an image (or fixed-shape) classifier from any <see cref="ITeacher"/> (<see cref="TeacherSignal.FromTeacher"/>), or
    /// from the labels alone when <paramref name="teacher"/> is null. See <see cref="FitAsync{TBatch}"/>.
    /// </summary>
    public Task<DistillationHistory> FitAsync(
        TorchModel student, ITeacher? teacher, IBatchSource train, IBatchSource? validation = null,
        string? resumeFrom = null, CancellationToken cancellationToken = default) =>
        FitAsync<Batch>(student, teacher is null ? null : TeacherSignal.FromTeacher(teacher), train, validation, resumeFrom, cancellationToken);

    /// <summary>
    /// Trains <paramref name="student"/>. Everything is validated before the first step: options, shapes, class counts,
    /// whether the loss accepts what the teacher gives (and needs a teacher at all), the loss path, layer names of feature
    /// losses, and the checkpoint to resume from.
    /// </summary>
    /// <typeparam name="TBatch">The batch type of the model kind.</typeparam>
    /// <param name="student">The student (trained in place).</param>
    /// <param name="teacher">The teacher signal; null when the loss needs none (training from scratch).</param>
    /// <param name="train">Training data.</param>
    /// <param name="validation">Evaluation data for per-epoch metrics: <c>val_accuracy</c>, <c>val_loss</c> (mean cross-entropy per
    /// counting row; for a language model its exponential is the perplexity), <c>val_ece</c>, and with a teacher that computes
    /// (not precomputed targets) <c>val_agreement</c> and <c>val_kl_to_teacher</c>.</param>
    /// <param name="resumeFrom">A checkpoint written by this trainer (same seed); training continues after its last epoch.</param>
    /// <param name="cancellationToken">Stops training between micro-batches with <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="TrainingDivergedException">At some step the student's logits or the loss were not finite (the learning rate is too high); the exception names the step and the epoch.</exception>
    public async Task<DistillationHistory> FitAsync<TBatch>(
        ITorchModel<TBatch> student, ITeacherSignal<TBatch>? teacher, IBatchSource<TBatch> train, IBatchSource<TBatch>? validation = null,
        string? resumeFrom = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(train);
        TorchSharpRuntime.EnsureInitialized();
        ValidateSetup(student, teacher, train, validation);
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

        var control = new Control(this, student, optimizer, totalSteps) { Step = step, History = history };
        var clock = Stopwatch.StartNew();
        var validationTeacherRows = new List<float[]>();
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
                foreach (FeatureDistillationLoss featureLoss in FeatureLosses)
                {
                    featureLoss.Train(true);
                }
                var sums = new Dictionary<string, double>();
                var parameterSums = new Dictionary<string, double>();
                int stepsThisEpoch = 0;
                double lr = 0;
                long samples = 0;
                using IEnumerator<TBatch> batches = train.GetBatches(_options.BatchSize, shuffle: true, _options.Seed, epoch).GetEnumerator();
                bool more = batches.MoveNext();
                while (more)
                {
                    // One optimisation step: up to GradientAccumulationSteps micro-batches, normalised by all their counting rows.
                    var group = new List<(TBatch Batch, RowLabels Labels)>(_options.GradientAccumulationSteps);
                    while (more && group.Count < _options.GradientAccumulationSteps)
                    {
                        group.Add((batches.Current, student.LabelsOf(batches.Current)));
                        more = batches.MoveNext();
                    }
                    float normalizer = Math.Max(1, group.Sum(g => g.Labels.CountingRows));
                    var stepTerms = new Dictionary<string, float>();
                    var stepParameters = new Dictionary<string, float>();
                    foreach ((TBatch batch, RowLabels labels) in group)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        LossValue value = await MicroStepAsync(student, teacher, batch, labels, step, totalSteps, normalizer, hintStage, cancellationToken).ConfigureAwait(false);
                        float share = labels.CountingRows / normalizer;
                        foreach ((string key, float v) in value.Terms)
                        {
                            stepTerms[key] = stepTerms.GetValueOrDefault(key) + v;
                        }
                        foreach ((string key, float v) in value.Parameters)
                        {
                            stepParameters[key] = stepParameters.GetValueOrDefault(key) + (v * share);
                        }
                        stepTerms["total"] = stepTerms.GetValueOrDefault("total") + value.Total;
                        samples += labels.Labels.Length;
                    }
                    lr = ApplyStep(student, optimizer, step, totalSteps);
                    step++;
                    control.Step = step;
                    stepsThisEpoch++;
                    foreach ((string key, float v) in stepTerms)
                    {
                        sums[key] = sums.GetValueOrDefault(key) + v;
                    }
                    foreach ((string key, float v) in stepParameters)
                    {
                        parameterSums[key] = parameterSums.GetValueOrDefault(key) + v;
                    }
                    foreach (IDistillationCallback callback in _callbacks)
                    {
                        callback.OnStepCompleted(step, stepTerms, control);
                    }
                }

                var trainLoss = sums.ToDictionary(kv => kv.Key, kv => kv.Value / Math.Max(1, stepsThisEpoch));
                var parameters = parameterSums.ToDictionary(kv => kv.Key, kv => kv.Value / Math.Max(1, stepsThisEpoch));
                IReadOnlyDictionary<string, double> metrics = validation is null
                    ? new Dictionary<string, double>()
                    : await EvaluateAsync(student, teacher, validation, validationTeacherRows, cancellationToken).ConfigureAwait(false);
                epochClock.Stop();
                var summary = new EpochSummary(epoch, step, trainLoss, metrics, lr, epochClock.Elapsed, samples / Math.Max(1e-9, epochClock.Elapsed.TotalSeconds))
                {
                    Parameters = parameters,
                };
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

    /// <summary>
    /// One micro-batch of the training loop — the teacher's targets, forward, loss and backward — exactly as
    /// <see cref="FitAsync{TBatch}"/> runs it: gradients accumulate in the student's parameters (and the feature losses'
    /// adapters); no optimiser step. Public so that benchmarks and custom loops run the trainer's own step.
    /// </summary>
    /// <param name="student">The student, in the mode the caller wants (training mode for a training step).</param>
    /// <param name="teacher">The teacher signal, or null.</param>
    /// <param name="batch">The micro-batch.</param>
    /// <param name="normalizer">The counting rows of the whole accumulated batch (rows, or valid tokens); null for this batch's.</param>
    /// <param name="step">The optimisation step (for schedules).</param>
    /// <param name="totalSteps">The total number of steps (for schedules).</param>
    /// <param name="cancellationToken">Cancels the teacher's fetch.</param>
    /// <returns>The loss, its terms and parameters.</returns>
    public Task<LossValue> ComputeGradientsAsync<TBatch>(
        ITorchModel<TBatch> student, ITeacherSignal<TBatch>? teacher, TBatch batch, float? normalizer = null, long step = 0, long totalSteps = 1,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(student);
        RowLabels labels = student.LabelsOf(batch);
        return MicroStepAsync(student, teacher, batch, labels, step, totalSteps, normalizer ?? Math.Max(1, labels.CountingRows), hintStage: false, cancellationToken);
    }

    private async Task<LossValue> MicroStepAsync<TBatch>(
        ITorchModel<TBatch> student, ITeacherSignal<TBatch>? teacher, TBatch batch, RowLabels labels, long step, long totalSteps, float normalizer,
        bool hintStage, CancellationToken cancellationToken)
    {
        bool needTargets = _loss.AcceptedTargets != TeacherTargetKinds.None && !hintStage;
        TeacherStepTargets? targets = null;
        if (teacher is not null && (needTargets || HasFeatureLosses))
        {
            // Outside the step's dispose scope: the fetch may await I/O and resume on another thread.
            var request = new TeacherSignalRequest(needTargets, HasFeatureLosses ? TeacherFeatureNames : [], student.Device);
            targets = await teacher.FetchAsync(batch, request, cancellationToken).ConfigureAwait(false);
        }
        return Step(student, targets, batch, labels, step, totalSteps, normalizer, hintStage);
    }

    private LossValue Step<TBatch>(ITorchModel<TBatch> student, TeacherStepTargets? targets, TBatch batch, RowLabels labels, long step, long totalSteps, float normalizer, bool hintStage)
    {
        using var scope = torch.NewDisposeScope();
        Tensor x = student.ToInput(batch);
        // The teacher runs first (a model on the device runs its forward pass here, inside this step's scope).
        targets?.Prepare();
        Dictionary<string, Tensor>? studentFeatures = HasFeatureLosses ? new() : null;
        Tensor logits = student.ForwardRows(x, HasFeatureLosses ? StudentFeatureNames : null, studentFeatures);
        int classes = student.Metadata.ClassCount;
        if (logits.dim() != 2 || logits.shape[0] != labels.Labels.Length || logits.shape[1] != classes)
        {
            throw new InvalidOperationException($"Student '{student.Metadata.Name}' produced logit rows of shape [{string.Join(", ", logits.shape)}]; expected [{labels.Labels.Length}, {classes}].");
        }
        if (targets is not null && targets.Kind != TeacherTargetKinds.None && targets.Rows != labels.Labels.Length)
        {
            throw new InvalidOperationException($"The teacher gave targets for {targets.Rows} rows; the student's batch has {labels.Labels.Length}.");
        }
        (Tensor? featureTotal, Dictionary<string, float> featureTerms) = HasFeatureLosses
            ? ComputeFeatureTerms(studentFeatures!, TeacherFeatureNames.ToDictionary(n => n, n => targets!.Feature(n, student.Device)), labels.CountingRows / normalizer)
            : (null, new Dictionary<string, float>());

        if (hintStage)
        {
            // FitNets stage 1: only the feature (hint) terms.
            featureTotal!.backward();
            return Combine(null, featureTotal, featureTerms);
        }
        return Combine(RunLoss(logits, labels, targets, step, totalSteps, normalizer, featureTotal, student.Device), featureTotal, featureTerms);
    }

    private LossValue RunLoss(Tensor logits, RowLabels labels, TeacherStepTargets? targets, long step, long totalSteps, float normalizer, Tensor? featureTotal, Device device)
    {
        TeacherTargetKinds use = ChooseTargets(targets?.Kind ?? TeacherTargetKinds.None);
        if (TorchFormFor(device) is { } torchLoss)
        {
            Tensor labelTensor = torch.tensor(labels.Labels.Select(l => (long)l).ToArray()).to(device);
            Tensor? mask = labels.Mask is null ? null : torch.tensor(labels.Mask).to(device);
            (Tensor Indices, Tensor Values)? topK = use == TeacherTargetKinds.TopK ? targets!.TopKTensors(device) : null;
            var inputs = new TorchLossInputs(logits, labelTensor, mask, step, totalSteps, normalizer)
            {
                TeacherLogits = use == TeacherTargetKinds.DenseLogits ? targets!.DenseLogits(device) : null,
                TeacherTopKIndices = topK?.Indices,
                TeacherTopKValues = topK?.Values,
                TeacherTopKValueKind = targets?.TopKValueKind ?? default,
            };
            TorchLossValue value = torchLoss.ComputeOnDevice(inputs);
            float total = value.Loss.item<float>();
            if (!float.IsFinite(total))
            {
                throw Diverged(step, totalSteps, $"the loss is {total.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            }
            (featureTotal is null ? value.Loss : value.Loss.add(featureTotal, TorchScalars.One)).backward();
            return new LossValue(total, value.Terms.ToDictionary(kv => kv.Key, kv => kv.Value.detach().item<float>()), value.Parameters);
        }

        // The kernels read the logits' storage and write the gradient into a tensor's storage in place: no managed copies.
        Tensor studentCpu = TensorSpans.OnCpu(logits, ScalarType.Float32);
        Tensor gradient = torch.zeros(logits.shape, ScalarType.Float32);
        ReadOnlySpan<float> dense = use == TeacherTargetKinds.DenseLogits ? targets!.DenseLogitsOnCpu() : default;
        ReadOnlySpan<int> indices = use == TeacherTargetKinds.TopK ? targets!.TopKIndicesOnCpu() : default;
        ReadOnlySpan<float> values = use == TeacherTargetKinds.TopK ? targets!.TopKValuesOnCpu() : default;
        var lossInputs = new LossInputs(TensorSpans.Of<float>(studentCpu), dense, labels.Labels, (int)logits.shape[1], step, totalSteps, normalizer)
        {
            Mask = labels.Mask,
            TeacherClassCount = use == TeacherTargetKinds.DenseLogits ? targets!.ClassCount : 0,
            TeacherTopK = use == TeacherTargetKinds.TopK ? targets!.TopK : 0,
            TeacherTopKIndices = indices,
            TeacherTopKValues = values,
            TeacherTopKValueKind = targets?.TopKValueKind ?? default,
        };
        LossValue loss;
        try
        {
            loss = _loss.Compute(lossInputs, TensorSpans.Of<float>(gradient));
        }
        catch (ArgumentException) when (FirstNonFinite(TensorSpans.Of<float>(studentCpu)) >= 0)
        {
            // A diverged student (NaN or ∞ logits) is reported as such, not as a kernel's complaint about its inputs; the
            // kernels' own fused check finds it, so healthy steps pay no extra pass over the logits.
            ReadOnlySpan<float> rows = TensorSpans.Of<float>(studentCpu);
            throw Diverged(step, totalSteps, $"the student's logits hold {rows[FirstNonFinite(rows)].ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        }
        if (!float.IsFinite(loss.Total))
        {
            throw Diverged(step, totalSteps, $"the loss is {loss.Total.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        }
        Tensor g = logits.device.type == DeviceType.CPU ? gradient : gradient.to(logits.device);
        Tensor surrogate = logits.mul(g).sum();
        (featureTotal is null ? surrogate : surrogate.add(featureTotal, TorchScalars.One)).backward();
        return loss;
    }

    private TrainingDivergedException Diverged(long step, long totalSteps, string observation)
    {
        long stepsPerEpoch = Math.Max(1, totalSteps / _options.Epochs);
        int epoch = (int)Math.Clamp((step / stepsPerEpoch) + 1, 1, _options.Epochs);
        return new TrainingDivergedException(step + 1, totalSteps, epoch, _options.LearningRate, observation);
    }

    private static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }
        return -1;
    }

    // Dense logits when the loss takes them (a top-k loss extracts its own top-k from them), else the top-k list.
    private TeacherTargetKinds ChooseTargets(TeacherTargetKinds present)
    {
        TeacherTargetKinds usable = present & _loss.AcceptedTargets;
        return usable.HasFlag(TeacherTargetKinds.DenseLogits) ? TeacherTargetKinds.DenseLogits
            : usable.HasFlag(TeacherTargetKinds.TopK) ? TeacherTargetKinds.TopK
            : TeacherTargetKinds.None;
    }

    // The TorchSharp form when it is asked for (validated before training) or, on Auto, off the CPU where the loss has a usable one.
    private ITorchLogitLoss? TorchFormFor(Device device) => LossPath switch
    {
        LogitLossPath.TorchOperations => (ITorchLogitLoss)_loss,
        LogitLossPath.Auto when device.type != DeviceType.CPU && _loss is ITorchLogitLoss { TorchOperationsUnavailableReason: null } form => form,
        _ => null,
    };

    private double ApplyStep<TBatch>(ITorchModel<TBatch> student, IStepOptimizer optimizer, long step, long totalSteps)
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
    private IStepOptimizer CreateOptimizer<TBatch>(ITorchModel<TBatch> student) => _options.Optimizer switch
    {
        OptimizerKind.Sgd => new StableSgd(TrainableParameters(student), _options.Momentum, _options.WeightDecay),
        _ => new StableAdamW(TrainableParameters(student), _options.WeightDecay),
    };

    private async Task<IReadOnlyDictionary<string, double>> EvaluateAsync<TBatch>(
        ITorchModel<TBatch> student, ITeacherSignal<TBatch>? teacher, IBatchSource<TBatch> validation, List<float[]> teacherRows, CancellationToken cancellationToken)
    {
        int classes = student.Metadata.ClassCount;
        var metrics = new RowMetrics(classes);
        // Precomputed targets exist only for the training rows: teacher metrics need a teacher that computes.
        bool teacherMetrics = teacher is { IsPrecomputed: false } && teacher.Provides.HasFlag(TeacherTargetKinds.DenseLogits) && teacher.Metadata.ClassCount == classes;
        var request = new TeacherSignalRequest(true, [], student.Device);
        int index = 0;
        foreach (TBatch batch in validation.GetBatches(EvaluationBatchSize, shuffle: false, 0, 0))
        {
            cancellationToken.ThrowIfCancellationRequested();
            RowLabels labels = student.LabelsOf(batch);
            if (teacherMetrics && index == teacherRows.Count)
            {
                // The teacher does not change: its rows are computed at the first evaluation and kept.
                TeacherStepTargets targets = await teacher!.FetchAsync(batch, request, cancellationToken).ConfigureAwait(false);
                using var teacherScope = torch.NewDisposeScope();
                targets.Prepare();
                teacherRows.Add(targets.DenseLogitsOnCpu().ToArray());
            }
            float[] studentRows = PredictRows(student, batch);
            metrics.Add(studentRows, labels.Labels, labels.Mask, teacherMetrics ? teacherRows[index] : default);
            index++;
        }
        var result = new Dictionary<string, double>
        {
            ["val_accuracy"] = metrics.Accuracy,
            ["val_loss"] = metrics.MeanCrossEntropy,
            ["val_ece"] = metrics.ExpectedCalibrationError,
        };
        if (metrics.HasTeacher)
        {
            result["val_agreement"] = metrics.Agreement;
            result["val_kl_to_teacher"] = metrics.MeanKlToTeacher;
        }
        return result;
    }

    // The student's logit rows in evaluation mode without gradients (dropout off, batch norm on running statistics).
    private static float[] PredictRows<TBatch>(ITorchModel<TBatch> student, TBatch batch)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        bool wasTraining = student.Module.training;
        student.Module.eval();
        try
        {
            using Tensor rows = student.ForwardRows(student.ToInput(batch)).detach().to(CPU).to_type(ScalarType.Float32).contiguous();
            return rows.data<float>().ToArray();
        }
        finally
        {
            student.Module.train(wasTraining);
        }
    }

    private void ValidateSetup<TBatch>(ITorchModel<TBatch> student, ITeacherSignal<TBatch>? teacher, IBatchSource<TBatch> train, IBatchSource<TBatch>? validation)
    {
        if (train.Count == 0)
        {
            throw new ArgumentException("The training data set is empty: there is nothing to train on.", nameof(train));
        }
        student.EnsureCompatible(train, nameof(train));
        if (validation is not null)
        {
            student.EnsureCompatible(validation, nameof(validation));
        }
        if (_loss.AcceptedTargets != TeacherTargetKinds.None && teacher is null)
        {
            throw new ArgumentException($"Loss '{_loss.Name}' distils from a teacher, but no teacher was given. Pass a teacher, or use HardLabelLoss to train from scratch.", nameof(teacher));
        }
        if (teacher is not null)
        {
            ModelMetadata t = teacher.Metadata, s = student.Metadata;
            if (!_loss.AcceptsTeacher(s, t))
            {
                throw new ArgumentException(t.ClassCount != s.ClassCount
                    ? $"Teacher '{t.Name}' has {t.ClassCount} classes but student '{s.Name}' has {s.ClassCount}; they must agree."
                    : $"Teacher '{t.Name}' and student '{s.Name}' use different vocabularies ('{t.Vocabulary}', '{s.Vocabulary}'); loss '{_loss.Name}' compares the same classes.", nameof(teacher));
            }
            if (_loss.AcceptedTargets != TeacherTargetKinds.None && (teacher.Provides & _loss.AcceptedTargets) == TeacherTargetKinds.None)
            {
                throw new ArgumentException(
                    $"The teacher targets '{teacher.Metadata.Name}' are {Describe(teacher.Provides)}, but loss '{_loss.Name}' needs {Describe(_loss.AcceptedTargets)}. " +
                    "Use a loss that accepts them (hinton-topk takes top-k targets), or a teacher (or float32/float16 cache) that gives dense logits.", nameof(teacher));
            }
            teacher.EnsureCompatible(train, nameof(teacher));
        }
        if (LossPath == LogitLossPath.TorchOperations)
        {
            string? reason = _loss is ITorchLogitLoss form
                ? form.TorchOperationsUnavailableReason
                : $"loss '{_loss.Name}' ({_loss.GetType().Name}) has no TorchSharp-operations form (build it with TorchLosses, or a recipe, to get one)";
            if (reason is not null)
            {
                throw new ArgumentException($"LossPath is TorchOperations, but {reason}. Use LogitLossPath.FusedCpuKernels or Auto.", nameof(LossPath));
            }
        }
        ValidateFeatureSetup(student, teacher);
    }

    private static string Describe(TeacherTargetKinds kinds) => kinds switch
    {
        TeacherTargetKinds.DenseLogits => "dense teacher logits",
        TeacherTargetKinds.TopK => "top-k",
        TeacherTargetKinds.None => "no targets",
        _ => "dense logits or top-k lists",
    };

    private (int Epoch, long Step) Restore<TBatch>(string path, ITorchModel<TBatch> student, IStepOptimizer optimizer, DistillationHistory history)
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

    private sealed class Control(TorchDistiller owner, IStudent student, IStepOptimizer optimizer, long totalSteps) : ITrainingControl
    {
        public string? StopReason { get; private set; }

        public long Step { get; set; }

        public int EpochsCompleted { get; set; }

        public DistillationHistory History { get; init; } = new();

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
