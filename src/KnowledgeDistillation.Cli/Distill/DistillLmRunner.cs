using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Datasets;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.Text;
using KnowledgeDistillation.TorchSharp.LanguageModels;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;

namespace KnowledgeDistillation.Cli.Distill;

/// <summary>
/// Language-model distillation on the King James Bible: trains (or loads from the cache) a teacher LM, then the same
/// small student with the same seed and token budget from scratch, with token-level KD (dense logits, top-k
/// log-probabilities) and with sequence-level KD (next-token training on teacher-generated text), and reports held-out
/// perplexity of each.
/// </summary>
internal sealed class DistillLmRunner(DistillLmSettings settings, TextWriter log)
{
    private static readonly string[] KnownModes = ["scratch", "dense", "sparse", "seqkd"];

    public DistillLmReport Run(CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        string[] modes = ParseModes(settings.Modes);
        DivergenceKind divergence = ParseDivergence(settings.Divergence);
        if (settings.HeldOutEvery < 2)
        {
            throw new ArgumentException($"--held-out-every must be ≥ 2 (got {settings.HeldOutEvery}): every N-th verse is held out.");
        }

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
        TokenStream heldOut = TokenStream.FromDocuments(heldOutVerses.Select(tokenizer.Encode), tokenizer.EndOfSequence);
        log.WriteLine($"King James Bible: {trainVerses.Count} training verses ({train.Count:N0} byte tokens), {heldOutVerses.Count} held-out verses ({heldOut.Count:N0} tokens); device {device}; {torch.get_num_threads()} thread(s)");

        CausalLanguageModelOptions teacherShape = CausalLanguageModelOptions.Parse(settings.Teacher, tokenizer.VocabularySize);
        CausalLanguageModelOptions studentShape = CausalLanguageModelOptions.Parse(settings.Student, tokenizer.VocabularySize);
        (CausalLanguageModel teacher, double teacherSeconds, double teacherLoss) = GetTeacher(teacherShape, train, device, cancellationToken);
        using (teacher)
        {
            double teacherPerplexity = LanguageModelTrainer.Perplexity(teacher, heldOut, settings.SequenceLength, tokenizer.Padding, cancellationToken: cancellationToken);
            log.WriteLine($"teacher {teacherShape}: {teacher.ParameterCount:N0} parameters, held-out perplexity {teacherPerplexity:F3}");
            var teacherReport = new LmModelReport("teacher", teacherShape.ToString(), teacher.ParameterCount, teacherPerplexity, teacherSeconds, settings.TeacherSteps, teacherLoss);
            var students = new List<LmModelReport>();
            foreach (string mode in modes)
            {
                cancellationToken.ThrowIfCancellationRequested();
                students.Add(TrainStudent(mode, studentShape, teacher, train, heldOut, divergence, device, cancellationToken));
            }

            return new DistillLmReport(
                $"King James Bible (Debian bible-kjv-text), every {settings.HeldOutEvery}th verse held out", train.Count, heldOut.Count, tokenizer.Name,
                settings.BatchSize, settings.SequenceLength, settings.Divergence, settings.Temperature, settings.Alpha, settings.TopK, settings.SequenceKdTokens,
                settings.Seed, device.ToString(), torch.get_num_threads(), teacherReport, students,
                $"{RuntimeInformation.OSDescription}, {Environment.ProcessorCount} cores, {RuntimeInformation.ProcessArchitecture}",
                DateTimeOffset.UtcNow, total.Elapsed.TotalSeconds);
        }
    }

    private LmModelReport TrainStudent(
        string mode, CausalLanguageModelOptions shape, CausalLanguageModel teacher, TokenStream train, TokenStream heldOut, DivergenceKind divergence,
        torch.Device device, CancellationToken cancellationToken)
    {
        ByteTokenizer tokenizer = ByteTokenizer.Instance;
        var clock = Stopwatch.StartNew();
        TokenStream data = train;
        if (mode == "seqkd")
        {
            data = GenerateTeacherText(teacher, train, cancellationToken);
        }

        var options = new LanguageModelTrainingOptions
        {
            Steps = settings.Steps,
            BatchSize = settings.BatchSize,
            SequenceLength = settings.SequenceLength,
            LearningRate = settings.LearningRate,
            Seed = settings.Seed,
            TeacherMode = mode switch { "dense" => LanguageModelTeacherMode.DenseLogits, "sparse" => LanguageModelTeacherMode.SparseTopK, _ => LanguageModelTeacherMode.None },
            Alpha = settings.Alpha,
            TopK = settings.TopK,
            Loss = new SequenceLossOptions { Kind = divergence, Temperature = settings.Temperature },
            ReportEvery = Math.Max(1, settings.Steps / 4),
        };
        // The same initial weights for every student: seed libtorch before building it.
        torch.manual_seed(settings.Seed);
        using var student = new CausalLanguageModel(shape).to(device);
        string name = mode switch
        {
            "dense" => $"student, token-level KD (dense logits, {settings.Divergence})",
            "sparse" => $"student, token-level KD (top-{settings.TopK} log-probs, {settings.Divergence})",
            "seqkd" => "student, sequence-level KD (teacher text)",
            _ => "student, from scratch",
        };
        LanguageModelProgress last = new LanguageModelTrainer(options).Fit(
            student, data, mode is "dense" or "sparse" ? teacher : null, tokenizer, tokenizer,
            p => log.WriteLine($"  [{mode}] step {p.Step}/{p.TotalSteps}: loss {p.Loss:F4} (ce {p.CrossEntropy:F4}, kd {p.Distillation:F4}), lr {p.LearningRate:G3}, {p.Elapsed.TotalSeconds:F0} s"),
            cancellationToken);
        double seconds = clock.Elapsed.TotalSeconds;
        double perplexity = LanguageModelTrainer.Perplexity(student, heldOut, settings.SequenceLength, tokenizer.Padding, cancellationToken: cancellationToken);
        log.WriteLine($"{name}: {student.ParameterCount:N0} parameters, held-out perplexity {perplexity:F3} ({seconds:F0} s)");
        return new LmModelReport(name, shape.ToString(), student.ParameterCount, perplexity, seconds, settings.Steps, last.Loss);
    }

    // Kim & Rush (2016): the teacher writes the training text. Prompts are the first bytes of training windows; each
    // continuation is sampled at T = 1 and the student later trains on prompt + continuation.
    private TokenStream GenerateTeacherText(CausalLanguageModel teacher, TokenStream train, CancellationToken cancellationToken)
    {
        const int promptLength = 8;
        int newTokens = settings.SequenceLength;
        const int rows = 32;
        var random = new Random(settings.Seed + 1);
        var generator = new torch.Generator((ulong)settings.Seed);
        var documents = new List<int[]>();
        int produced = 0;
        var clock = Stopwatch.StartNew();
        while (produced < settings.SequenceKdTokens)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var prompts = new int[rows][];
            for (int r = 0; r < rows; r++)
            {
                int start = random.Next(train.Count - promptLength);
                prompts[r] = train.Tokens.Slice(start, promptLength).ToArray();
            }

            int[][] continuations = teacher.GenerateBatch(prompts, newTokens, 1f, generator);
            for (int r = 0; r < rows; r++)
            {
                documents.Add([.. prompts[r], .. continuations[r]]);
                produced += promptLength + newTokens;
            }
        }

        log.WriteLine($"  [seqkd] teacher generated {produced:N0} tokens in {clock.Elapsed.TotalSeconds:F0} s; sample: \"{ByteTokenizer.Instance.Decode(documents[0]).ReplaceLineEndings(" ")}\"");
        return new TokenStream(documents.SelectMany(d => d).ToArray());
    }

    private (CausalLanguageModel Model, double Seconds, double Loss) GetTeacher(CausalLanguageModelOptions shape, TokenStream train, torch.Device device, CancellationToken cancellationToken)
    {
        string key = string.Create(CultureInfo.InvariantCulture, $"{shape}|{settings.TeacherSteps}|{settings.BatchSize}|{settings.SequenceLength}|{settings.LearningRate}|{settings.Seed}|{settings.TrainVerses}|{settings.HeldOutEvery}|{train.Count}");
        string hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16].ToLowerInvariant();
        string path = Path.Combine(settings.CacheDirectory, $"lm-teacher-{hash}.bin");
        torch.manual_seed(settings.Seed);
        var teacher = new CausalLanguageModel(shape, "teacher").to(device);
        if (File.Exists(path))
        {
            teacher.LoadWeights(path);
            log.WriteLine($"teacher loaded from {path}");
            return (teacher, 0, double.NaN);
        }

        var clock = Stopwatch.StartNew();
        var options = new LanguageModelTrainingOptions
        {
            Steps = settings.TeacherSteps,
            BatchSize = settings.BatchSize,
            SequenceLength = settings.SequenceLength,
            LearningRate = settings.LearningRate,
            Seed = settings.Seed,
            ReportEvery = Math.Max(1, settings.TeacherSteps / 6),
        };
        LanguageModelProgress last = new LanguageModelTrainer(options).Fit(
            teacher, train, progress: p => log.WriteLine($"  [teacher] step {p.Step}/{p.TotalSteps}: loss {p.Loss:F4}, {p.Elapsed.TotalSeconds:F0} s"), cancellationToken: cancellationToken);
        teacher.SaveWeights(path);
        log.WriteLine($"teacher trained in {clock.Elapsed.TotalSeconds:F0} s, cached at {path}");
        return (teacher, clock.Elapsed.TotalSeconds, last.Loss);
    }

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

    private static DivergenceKind ParseDivergence(string text) => text.ToLowerInvariant() switch
    {
        "forward-kl" or "kl" => DivergenceKind.ForwardKl,
        "reverse-kl" => DivergenceKind.ReverseKl,
        "jsd" => DivergenceKind.JensenShannon,
        _ => throw new FormatException($"--divergence '{text}' must be forward-kl, reverse-kl or jsd."),
    };
}
