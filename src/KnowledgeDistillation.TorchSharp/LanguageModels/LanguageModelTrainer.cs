using System.Diagnostics;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Text;
using KnowledgeDistillation.Training;
using KnowledgeDistillation.TorchSharp.Optimizers;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.LanguageModels;

/// <summary>Progress of a language-model training run.</summary>
/// <param name="Step">Completed optimiser steps.</param>
/// <param name="TotalSteps">All steps.</param>
/// <param name="Loss">The training loss of the last step.</param>
/// <param name="CrossEntropy">Its next-token cross-entropy term (nats per token).</param>
/// <param name="Distillation">Its distillation term (0 without a teacher).</param>
/// <param name="LearningRate">The learning rate used.</param>
/// <param name="Elapsed">Time since the start.</param>
public readonly record struct LanguageModelProgress(long Step, long TotalSteps, float Loss, float CrossEntropy, float Distillation, double LearningRate, TimeSpan Elapsed);

/// <summary>
/// Trains a <see cref="CausalLanguageModel"/> on next-token prediction, optionally distilling a teacher language model
/// token by token (dense logits or top-k log-probabilities): loss = α·KD + (1 − α)·CE over the valid tokens, both divided
/// by the valid tokens of the whole accumulated batch. AdamW (this library's <see cref="StableAdamW"/>), warm-up and decay
/// from <see cref="LearningRates"/>, gradient clipping, seeded batch sampling, a dispose scope per micro-step, cancellation
/// between micro-batches.
/// </summary>
public sealed class LanguageModelTrainer
{
    private readonly LanguageModelTrainingOptions _options;

    /// <summary>Creates a trainer; the options are validated now.</summary>
    public LanguageModelTrainer(LanguageModelTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <summary>
    /// Trains <paramref name="student"/> in place on random windows of <paramref name="train"/>.
    /// </summary>
    /// <param name="student">The model to train.</param>
    /// <param name="train">Training tokens.</param>
    /// <param name="teacher">The teacher, required unless <see cref="LanguageModelTrainingOptions.TeacherMode"/> is None.</param>
    /// <param name="studentTokenizer">The student's tokenizer (checked against the teacher's).</param>
    /// <param name="teacherTokenizer">The teacher's tokenizer; null means the student's.</param>
    /// <param name="progress">Called every <see cref="LanguageModelTrainingOptions.ReportEvery"/> steps and at the end.</param>
    /// <param name="cancellationToken">Stops between micro-batches with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The last progress report.</returns>
    public LanguageModelProgress Fit(
        CausalLanguageModel student, TokenStream train, CausalLanguageModel? teacher = null, ITextTokenizer? studentTokenizer = null,
        ITextTokenizer? teacherTokenizer = null, Action<LanguageModelProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(train);
        TorchSharpRuntime.EnsureInitialized();
        ValidateSetup(student, teacher, studentTokenizer, teacherTokenizer);
        var random = new Random(_options.Seed);
        torch.manual_seed(_options.Seed);
        using var optimizer = new StableAdamW(student.parameters(), _options.WeightDecay);
        student.train();
        teacher?.eval();
        var clock = Stopwatch.StartNew();
        LanguageModelProgress last = default;
        for (long step = 0; step < _options.Steps; step++)
        {
            var batches = new TokenBatch[_options.GradientAccumulationSteps];
            for (int m = 0; m < batches.Length; m++)
            {
                batches[m] = train.Sample(random, _options.BatchSize, _options.SequenceLength);
            }

            int normalizer = batches.Sum(b => b.ValidTokens);
            float loss = 0, ce = 0, kd = 0;
            foreach (TokenBatch batch in batches)
            {
                cancellationToken.ThrowIfCancellationRequested();
                (float l, float c, float k) = MicroStep(student, teacher, batch, normalizer);
                loss += l;
                ce += c;
                kd += k;
            }

            double lr = LearningRates.At(step, _options.Steps, _options.LearningRate, _options.WarmupFraction, _options.Schedule);
            if (_options.GradientClipNorm is { } clip)
            {
                using var clipScope = torch.NewDisposeScope();
                nn.utils.clip_grad_norm_(student.parameters(), clip);
            }

            optimizer.Step(lr);
            optimizer.ZeroGrad();
            last = new LanguageModelProgress(step + 1, _options.Steps, loss, ce, kd, lr, clock.Elapsed);
            if (progress is not null && ((_options.ReportEvery > 0 && (step + 1) % _options.ReportEvery == 0) || step + 1 == _options.Steps))
            {
                progress(last);
            }
        }

        return last;
    }

    /// <summary>
    /// One micro-batch: forward, loss, backward (gradients accumulate in the parameters). Public so that benchmarks and
    /// custom loops run exactly the trainer's step. Returns (total, cross-entropy, distillation) for the batch.
    /// </summary>
    /// <param name="student">The student.</param>
    /// <param name="teacher">The teacher, or null.</param>
    /// <param name="batch">The micro-batch.</param>
    /// <param name="normalizer">Valid tokens of the whole accumulated batch.</param>
    public (float Loss, float CrossEntropy, float Distillation) MicroStep(CausalLanguageModel student, CausalLanguageModel? teacher, TokenBatch batch, int normalizer)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = torch.NewDisposeScope();
        Device device = student.Device;
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        Tensor inputs = torch.tensor(batch.Inputs.Select(v => (long)v).ToArray(), shape, device: device);
        Tensor mask = torch.tensor(batch.Mask, shape, device: device);
        Tensor logits = student.call(inputs);
        Tensor ce = CrossEntropy(logits, batch, normalizer);
        Tensor total = ce;
        Tensor? kd = null;
        if (_options.TeacherMode != LanguageModelTeacherMode.None && teacher is not null)
        {
            Tensor teacherLogits;
            using (torch.no_grad())
            {
                teacherLogits = teacher.call(teacher.Device == device ? inputs : inputs.to(teacher.Device)).to(device);
            }

            kd = _options.TeacherMode == LanguageModelTeacherMode.DenseLogits
                ? TorchSequenceLosses.Dense(logits, teacherLogits, mask, _options.Loss, normalizer, _options.LossPath, _options.TokenMapping)
                : SparseFromTeacher(logits, teacherLogits, mask, normalizer);
            using Scalar alpha = _options.Alpha.ToScalar();
            using Scalar oneMinusAlpha = (1 - _options.Alpha).ToScalar();
            total = kd.mul(alpha).add(ce.mul(oneMinusAlpha), TorchScalars.One);
        }

        total.backward();
        return (total.item<float>(), ce.item<float>(), kd?.item<float>() ?? 0f);
    }

    /// <summary>
    /// Sum of −log p(target) over the valid tokens divided by <paramref name="normalizer"/>; masked targets are ignored.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, TokenBatch batch, int normalizer)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(batch);
        var targets = new long[batch.Targets.Length];
        for (int i = 0; i < targets.Length; i++)
        {
            targets[i] = batch.Mask[i] ? batch.Targets[i] : -100;
        }

        using var scope = torch.NewDisposeScope();
        Tensor t = torch.tensor(targets, device: logits.device);
        Tensor sum = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), t, ignore_index: -100, reduction: nn.Reduction.Sum);
        using Scalar inverse = (1.0 / Math.Max(normalizer, 1)).ToScalar();
        return sum.mul(inverse).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Held-out perplexity: exp of the mean next-token cross-entropy over every token of <paramref name="data"/> once
    /// (consecutive windows of <paramref name="sequenceLength"/>).
    /// </summary>
    public static double Perplexity(CausalLanguageModel model, TokenStream data, int sequenceLength, int padding, int batchSize = 32, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            double nats = 0;
            long tokens = 0;
            using var noGrad = torch.no_grad();
            foreach (TokenBatch batch in data.Sequential(batchSize, sequenceLength, padding))
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                Tensor inputs = torch.tensor(batch.Inputs.Select(v => (long)v).ToArray(), [batch.BatchSize, batch.SequenceLength], device: model.Device);
                int valid = batch.ValidTokens;
                nats += CrossEntropy(model.call(inputs), batch, 1).item<float>();
                tokens += valid;
            }

            return Math.Exp(nats / Math.Max(tokens, 1));
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    private Tensor SparseFromTeacher(Tensor logits, Tensor teacherLogits, Tensor mask, int normalizer)
    {
        // The teacher as an API or a logit cache gives it: the k most likely tokens and their log-probabilities at T = 1.
        int k = Math.Min(_options.TopK, (int)teacherLogits.shape[2]);
        (Tensor values, Tensor indices) = nn.functional.log_softmax(teacherLogits, 2).topk(k, 2);
        return TorchSequenceLosses.SparseTopK(logits, indices, values, TopKValueKind.LogProbabilities, mask, _options.Loss, normalizer, _options.LossPath, _options.TokenMapping);
    }

    private void ValidateSetup(CausalLanguageModel student, CausalLanguageModel? teacher, ITextTokenizer? studentTokenizer, ITextTokenizer? teacherTokenizer)
    {
        if (_options.SequenceLength > student.Options.ContextLength)
        {
            throw new ArgumentException($"SequenceLength ({_options.SequenceLength}) exceeds the student's context ({student.Options.ContextLength}).", nameof(student));
        }

        if (_options.TeacherMode == LanguageModelTeacherMode.None)
        {
            return;
        }

        if (teacher is null)
        {
            throw new ArgumentNullException(nameof(teacher), $"TeacherMode is {_options.TeacherMode}: pass a teacher model, or set TeacherMode = None to train without one.");
        }

        if (_options.SequenceLength > teacher.Options.ContextLength)
        {
            throw new ArgumentException($"SequenceLength ({_options.SequenceLength}) exceeds the teacher's context ({teacher.Options.ContextLength}).", nameof(teacher));
        }

        teacherTokenizer ??= studentTokenizer;
        if (studentTokenizer is not null && teacherTokenizer is not null && teacherTokenizer.Name != studentTokenizer.Name && _options.TokenMapping is null)
        {
            throw new ArgumentException(
                $"The teacher's tokenizer '{teacherTokenizer.Name}' differs from the student's '{studentTokenizer.Name}': token-level distillation compares distributions over the same token ids. Supply LanguageModelTrainingOptions.TokenMapping (for example TokenMapping.ByTokenString) or use sequence-level distillation (train the student on teacher-generated text).",
                nameof(teacherTokenizer));
        }
    }
}
