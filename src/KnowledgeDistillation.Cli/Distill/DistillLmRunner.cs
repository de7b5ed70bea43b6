using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Datasets;
using KnowledgeDistillation.IO;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Metrics;
using KnowledgeDistillation.Schedules;
using KnowledgeDistillation.Text;
using KnowledgeDistillation.TorchSharp.Losses;
using KnowledgeDistillation.TorchSharp.LanguageModels;
using KnowledgeDistillation.TorchSharp.Recipes;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.TorchSharp.Teachers;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;
using TorchSharp;

namespace KnowledgeDistillation.Cli.Distill;

/// <summary>
/// Language-model distillation on the King James Bible: trains (or loads from the teacher store) a teacher LM, then the same
/// small student with the same seed and token budget from scratch, with token-level KD (dense logits, top-k
/// log-probabilities) and with sequence-level KD (next-token training on teacher-generated text), all through the one
/// training core; reports held-out perplexity, KL to the teacher and greedy agreement of each, and keeps every student.
/// </summary>
internal sealed class DistillLmRunner(DistillLmSettings settings, TextWriter log)
{
    private static readonly string[] KnownModes = ["scratch", "dense", "sparse", "seqkd"];

    public async Task<DistillLmReport> RunAsync(CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        string[] modes = ParseModes(settings.Modes);
        string divergence = ParseDivergence(settings.Divergence);
        Validate();

        TorchSharpRuntime.EnsureInitialized();
        if (settings.Threads is { } threads)
        {
            torch.set_num_threads(threads);
        }

        var device = TorchSharpRuntime.ResolveDevice(settings.Device);
        ByteTokenizer tokenizer = ByteTokenizer.Instance;
        IReadOnlyList<string> verses = KingJamesBible.LoadVerses(settings.TextPath);
        // Every N-th verse is held out (spread over the whole book); the training slice is the first TrainVerses of the rest.
        var heldOutVerses = verses.Where((_, i) => i % settings.HeldOutEvery == 0).ToList();
        var trainVerses = verses.Where((_, i) => i % settings.HeldOutEvery != 0).Take(settings.TrainVerses).ToList();
        TokenStream train = TokenStream.FromDocuments(trainVerses.Select(tokenizer.Encode), tokenizer.EndOfSequence);
        TokenStream heldOutTokens = TokenStream.FromDocuments(heldOutVerses.Select(tokenizer.Encode), tokenizer.EndOfSequence);
        CheckTextLength(verses.Count, trainVerses.Count, train.Count, heldOutVerses.Count, heldOutTokens.Count);
        TokenWindowSource heldOut = TokenWindowSource.Sequential(heldOutTokens, settings.SequenceLength, tokenizer.VocabularySize, tokenizer.Padding);
        log.WriteLine($"King James Bible: {trainVerses.Count} training verses ({train.Count:N0} byte tokens), {heldOutVerses.Count} held-out verses ({heldOutTokens.Count:N0} tokens); device {device}; {torch.get_num_threads()} thread(s)");

        CausalLanguageModelOptions teacherShape = ParseShape("--teacher", settings.Teacher, tokenizer.VocabularySize);
        CausalLanguageModelOptions studentShape = ParseShape("--student", settings.Student, tokenizer.VocabularySize);
        using TorchLanguageModel teacher = TorchLanguageModel.Create(teacherShape, settings.Seed, device, "teacher", tokenizer);
        (double teacherSeconds, double teacherLoss) = await GetTeacherAsync(teacher, train, cancellationToken).ConfigureAwait(false);
        double teacherPerplexity = teacher.Perplexity(heldOut, cancellationToken: cancellationToken);
        log.WriteLine($"teacher {teacherShape}: {teacher.Metadata.ParameterCount:N0} parameters, held-out perplexity {teacherPerplexity:F3}");
        var teacherReport = new LmModelReport("teacher", teacherShape.ToString(), teacher.Metadata.ParameterCount ?? 0, teacherPerplexity, teacherSeconds, settings.TeacherSteps, teacherLoss);
        var students = new List<LmModelReport>();
        foreach (string mode in modes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            students.Add(await TrainStudentAsync(mode, studentShape, teacher, train, heldOut, divergence, device, cancellationToken).ConfigureAwait(false));
        }

        return new DistillLmReport(
            $"King James Bible (Debian bible-kjv-text), every {settings.HeldOutEvery}th verse held out", train.Count, heldOutTokens.Count, tokenizer.Name,
            settings.BatchSize, settings.SequenceLength, settings.Divergence, settings.Temperature, settings.Alpha, settings.TopK, settings.SequenceKdTokens,
            settings.Seed, device.ToString(), torch.get_num_threads(), teacherReport, students,
            $"{RuntimeInformation.OSDescription}, {Environment.ProcessorCount} cores, {RuntimeInformation.ProcessArchitecture}",
            DateTimeOffset.UtcNow, total.Elapsed.TotalSeconds);
    }

    /// <summary>Checks every numeric option against its range and the paths, before any work.</summary>
    internal void Validate()
    {
        OptionRules.Range("--teacher-steps", settings.TeacherSteps, 1, 10_000_000, "optimiser steps of the teacher");
        OptionRules.Range("--steps", settings.Steps, 1, 10_000_000, "optimiser steps of each student");
        OptionRules.Range("--batch-size", settings.BatchSize, 1, 1 << 16, "sequences per step");
        OptionRules.Range("--sequence-length", settings.SequenceLength, 1, 1 << 16, "tokens per sequence");
        OptionRules.Positive("--lr", settings.LearningRate, double.MaxValue, "the peak learning rate");
        OptionRules.Positive("--temperature", settings.Temperature, 1000, "the distillation temperature");
        OptionRules.Between("--alpha", settings.Alpha, 0, 1, "the weight of the distillation term");
        OptionRules.Range("--top-k", settings.TopK, 1, ByteTokenizer.Instance.VocabularySize, "entries of the sparse teacher; the byte tokenizer has 256 tokens");
        OptionRules.Range("--seqkd-tokens", settings.SequenceKdTokens, 1, 100_000_000, "tokens the teacher generates for sequence-level KD");
        OptionRules.Range("--train-verses", settings.TrainVerses, 1, int.MaxValue, "training verses");
        OptionRules.Range("--held-out-every", settings.HeldOutEvery, 2, int.MaxValue, "every N-th verse is held out");
        OptionRules.Threads("--threads", settings.Threads);
        if (settings.EvaluateEvery is { } every && (every < 1 || every > settings.Steps || settings.Steps % every != 0))
        {
            throw new ArgumentException($"--eval-every {every} is out of range: give a whole number from 1 to --steps {settings.Steps} that divides it (each evaluation ends an epoch of the same length).");
        }
        OptionRules.OutputFolder("--out", settings.OutputDirectory, "the students' weights");
        OptionRules.OutputFolder("--cache", settings.CacheDirectory, "trained teachers");
        OptionRules.InputFile("--text", settings.TextPath, "a text file, one verse a line");
        OptionRules.OutputFile("--json", settings.JsonPath, "the results");
    }

    // A text too short for the windows: say which part is short and which options change it.
    private void CheckTextLength(int verses, int trainVerses, int trainTokens, int heldOutVerses, int heldOutTokens)
    {
        int needed = settings.SequenceLength + 1;
        if (trainTokens < needed || heldOutTokens < needed)
        {
            string source = settings.TextPath is null ? "the King James Bible text" : $"--text '{settings.TextPath}'";
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{source} has {verses} verse(s): {trainVerses} for training ({trainTokens} tokens) and {heldOutVerses} held out, every {settings.HeldOutEvery}-th ({heldOutTokens} tokens). --sequence-length {settings.SequenceLength} needs at least {needed} tokens in each: give a longer text, a shorter --sequence-length, or a smaller --held-out-every (more held-out verses)."));
        }
    }

    private static CausalLanguageModelOptions ParseShape(string option, string text, int vocabularySize)
    {
        try
        {
            return CausalLanguageModelOptions.Parse(text, vocabularySize);
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
        {
            string message = ex is ArgumentException { ParamName: { } name } ? ex.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : ex.Message;
            throw new ArgumentException($"{option} '{text}': {message} Expected for example layers=2,heads=4,width=96,context=64.", ex);
        }
    }

    private async Task<LmModelReport> TrainStudentAsync(
        string mode, CausalLanguageModelOptions shape, TorchLanguageModel teacher, TokenStream train, TokenWindowSource heldOut, string divergence,
        torch.Device device, CancellationToken cancellationToken)
    {
        ByteTokenizer tokenizer = ByteTokenizer.Instance;
        var clock = Stopwatch.StartNew();
        TokenStream data = train;
        if (mode == "seqkd")
        {
            (data, TimeSpan elapsed) = SequenceLevelDistillation.Generate(
                teacher, train, settings.SequenceKdTokens, settings.Seed, promptLength: 8, newTokens: settings.SequenceLength, cancellationToken: cancellationToken);
            log.WriteLine($"  [seqkd] teacher generated {data.Count:N0} tokens in {elapsed.TotalSeconds:F0} s; sample: \"{tokenizer.Decode(data.Tokens[..Math.Min(data.Count, 8 + settings.SequenceLength)]).ReplaceLineEndings(" ")}\"");
        }

        ITeacherSignal<TokenBatch>? signal = mode switch
        {
            "dense" => TeacherSignal.FromModel(teacher),
            "sparse" => TeacherSignal.FromModel(teacher).TopK(settings.TopK),
            _ => null,
        };
        IDistillationLoss loss = signal is null
            ? TorchLosses.HardLabel()
            : LossRegistry.Default.Create(new LossContext(RecipeSpec.Parse($"token-kd:divergence={divergence}"), Schedule.Constant(settings.Alpha), Schedule.Constant(settings.Temperature)));
        string name = mode switch
        {
            "dense" => $"student, token-level KD (dense logits, {settings.Divergence})",
            "sparse" => $"student, token-level KD (top-{settings.TopK} log-probs, {settings.Divergence})",
            "seqkd" => "student, sequence-level KD (teacher text)",
            _ => "student, from scratch",
        };
        // The same initial weights for every student: the same seed.
        using TorchLanguageModel student = TorchLanguageModel.Create(shape, settings.Seed, device, $"student-{mode}", tokenizer);
        DistillationHistory history = await Train(student, signal, loss, data, settings.Steps, heldOut, mode, cancellationToken).ConfigureAwait(false);
        double seconds = clock.Elapsed.TotalSeconds;
        RowMetrics metrics = student.Evaluate(heldOut, teacher, cancellationToken: cancellationToken);
        double perplexity = Math.Exp(metrics.MeanCrossEntropy);
        string weights = Path.Combine(settings.OutputDirectory, $"lm-student-{mode}-seed{settings.Seed}{WeightsFile.Extension}");
        WeightsFile.Save(student, weights);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: {student.Metadata.ParameterCount:N0} parameters, held-out perplexity {perplexity:F3}, KL to teacher {metrics.MeanKlToTeacher:F4}, greedy agreement {metrics.Agreement:P1} ({seconds:F0} s); weights {weights}"));
        return new LmModelReport(name, shape.ToString(), student.Metadata.ParameterCount ?? 0, perplexity, seconds, settings.Steps, history.Epochs[^1].TrainLoss.GetValueOrDefault("total"))
        {
            HeldOutKlToTeacher = metrics.MeanKlToTeacher,
            GreedyAgreement = metrics.Agreement,
            WeightsPath = weights,
        };
    }

    private async Task<(double Seconds, double Loss)> GetTeacherAsync(TorchLanguageModel teacher, TokenStream train, CancellationToken cancellationToken)
    {
        string key = TeacherStore.Key(
            "causal-lm", teacher.Model.Options.ToString(), Invariant(settings.TeacherSteps), Invariant(settings.BatchSize), Invariant(settings.SequenceLength),
            Invariant(settings.LearningRate), Invariant(settings.Seed), Invariant(settings.TrainVerses), Invariant(settings.HeldOutEvery), Invariant(train.Count), torch.__version__);
        double loss = double.NaN;
        StoredTeacher stored = await new TeacherStore(settings.CacheDirectory).GetOrTrainAsync(key, teacher, async ct =>
        {
            DistillationHistory history = await Train(teacher, null, TorchLosses.HardLabel(), train, settings.TeacherSteps, null, "teacher", ct).ConfigureAwait(false);
            loss = history.Epochs[^1].TrainLoss.GetValueOrDefault("total");
        }, log.WriteLine, cancellationToken).ConfigureAwait(false);
        if (stored.Trained)
        {
            log.WriteLine($"teacher trained in {stored.TrainingTime.TotalSeconds:F0} s, cached at {stored.Path}");
        }
        return (stored.TrainingTime.TotalSeconds, loss);
    }

    /// <summary>Trains one language model through the training core: AdamW, 5 % warm-up, cosine decay, clip 1, random windows.</summary>
    private async Task<DistillationHistory> Train(
        TorchLanguageModel model, ITeacherSignal<TokenBatch>? teacher, IDistillationLoss loss, TokenStream text, int steps, TokenWindowSource? heldOut, string label,
        CancellationToken cancellationToken)
    {
        // Held-out evaluation ends each epoch; without it, the run is one epoch.
        int stepsPerEpoch = heldOut is null ? steps : settings.EvaluateEvery ?? steps;
        var options = new DistillationOptions
        {
            Epochs = steps / stepsPerEpoch,
            BatchSize = settings.BatchSize,
            Seed = settings.Seed,
            LearningRate = settings.LearningRate,
            WarmupFraction = 0.05,
            WeightDecay = 0.01,
            GradientClipNorm = 1.0,
            LearningRateSchedule = LearningRateScheduleKind.Cosine,
        };
        TokenWindowSource windows = TokenWindowSource.Random(text, settings.SequenceLength, ByteTokenizer.Instance.VocabularySize, stepsPerEpoch * settings.BatchSize);
        var trainer = new TorchDistiller(options, loss, [Progress(label, steps)]) { EvaluationBatchSize = 32 };
        return await trainer.FitAsync(model, teacher, windows, heldOut, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private ProgressCallback Progress(string label, int steps) =>
        new(new SyncProgress(p =>
        {
            if (p.Summary is { } s)
            {
                string metrics = string.Join(", ", s.Metrics.Where(kv => kv.Key is "val_loss" or "val_kl_to_teacher").Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F4}")));
                if (metrics.Length > 0)
                {
                    log.WriteLine($"  [{label}] epoch {s.Epoch + 1}/{p.Epochs}: {metrics}");
                }
                return;
            }
            string terms = string.Join(", ", p.Terms.Where(kv => kv.Key != "total").OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F4}")));
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  [{label}] step {p.Step}/{p.TotalSteps}: loss {p.Loss:F4}{(terms.Length > 0 ? $" ({terms})" : "")}"));
        }), reportEverySteps: Math.Max(1, steps / 4));

    private static string Invariant(IFormattable value) => value.ToString(null, CultureInfo.InvariantCulture);

    private static string[] ParseModes(string text)
    {
        string[] modes = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(m => m.ToLowerInvariant()).ToArray();
        string? unknown = modes.FirstOrDefault(m => !KnownModes.Contains(m));
        if (modes.Length == 0 || unknown is not null)
        {
            throw new FormatException($"--modes '{text}' must be a comma-separated list of {string.Join(", ", KnownModes)}.");
        }

        return modes;
    }

    private static string ParseDivergence(string text) => text.ToLowerInvariant() switch
    {
        "forward-kl" or "kl" => "forward-kl",
        "reverse-kl" => "reverse-kl",
        "jsd" => "jsd",
        _ => throw new FormatException($"--divergence '{text}' must be forward-kl, reverse-kl or jsd."),
    };

    /// <summary>Reports synchronously on the training thread.</summary>
    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
