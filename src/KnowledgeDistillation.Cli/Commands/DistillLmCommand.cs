using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using KnowledgeDistillation.Cli.Distill;
using KnowledgeDistillation.IO;

namespace KnowledgeDistillation.Cli.Commands;

/// <summary><c>kd distill-lm</c>: a teacher language model distilled into a student with a quarter of its parameters, against the same student from scratch.</summary>
internal static class DistillLmCommand
{
    public static Command Create()
    {
        var d = new DistillLmSettings();
        var teacher = new Option<string>("--teacher") { Description = "Teacher LM shape: layers=L,heads=H,width=D,context=C[,ff=4][,tied=true][,dropout=P].", DefaultValueFactory = _ => d.Teacher };
        var student = new Option<string>("--student") { Description = "Student LM shape, same syntax.", DefaultValueFactory = _ => d.Student };
        var teacherSteps = new Option<int>("--teacher-steps") { Description = "Teacher optimiser steps (the trained teacher is cached).", DefaultValueFactory = _ => d.TeacherSteps };
        var steps = new Option<int>("--steps") { Description = "Student optimiser steps (the same for every student).", DefaultValueFactory = _ => d.Steps };
        var evalEvery = new Option<int?>("--eval-every") { Description = "Steps between held-out evaluations (val_loss, KL to the teacher; each ends an epoch); must divide --steps. Default: once, at the end." };
        var batch = new Option<int>("--batch-size") { Description = "Sequences per step.", DefaultValueFactory = _ => d.BatchSize };
        var length = new Option<int>("--sequence-length") { Description = "Tokens per sequence.", DefaultValueFactory = _ => d.SequenceLength };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (AdamW, cosine decay).", DefaultValueFactory = _ => d.LearningRate };
        var modes = new Option<string>("--modes") { Description = "Students to train: scratch, dense (token-level KD on full logits), sparse (top-k log-probs), seqkd (teacher-generated text).", DefaultValueFactory = _ => d.Modes };
        var divergence = new Option<string>("--divergence") { Description = "forward-kl, reverse-kl or jsd.", DefaultValueFactory = _ => d.Divergence };
        var temperature = new Option<float>("--temperature") { Description = "Distillation temperature.", DefaultValueFactory = _ => d.Temperature };
        var alpha = new Option<float>("--alpha") { Description = "Weight of the distillation term; the next-token cross-entropy gets 1 − α.", DefaultValueFactory = _ => d.Alpha };
        var topK = new Option<int>("--top-k") { Description = "k of the sparse teacher.", DefaultValueFactory = _ => d.TopK };
        var seqKdTokens = new Option<int>("--seqkd-tokens") { Description = "Tokens the teacher generates for sequence-level KD.", DefaultValueFactory = _ => d.SequenceKdTokens };
        var trainVerses = new Option<int>("--train-verses") { Description = "Training verses (after holding out every N-th).", DefaultValueFactory = _ => d.TrainVerses };
        var heldOutEvery = new Option<int>("--held-out-every") { Description = "Hold out every N-th verse.", DefaultValueFactory = _ => d.HeldOutEvery };
        var seed = new Option<int>("--seed") { Description = "Seed of weights, batches and sampling.", DefaultValueFactory = _ => d.Seed };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N.", DefaultValueFactory = _ => d.Device };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for libtorch." };
        var cache = new Option<string>("--cache") { Description = "Folder where trained teachers are cached.", DefaultValueFactory = _ => d.CacheDirectory };
        var output = new Option<string>("--out") { Description = "Folder where every trained student's weights are kept.", DefaultValueFactory = _ => d.OutputDirectory };
        var text = new Option<string?>("--text") { Description = "KJV text file, one verse a line (default: KD_KJV_TEXT or extracted once from Debian's bible-kjv-text)." };
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file." };
        var command = new Command("distill-lm", "Train a teacher language model on the King James Bible (or load it from the cache), distil it into a student with about a quarter of its parameters (token-level dense / top-k, sequence-level), train the same student from scratch on the same tokens, and compare held-out perplexity.")
        {
            teacher, student, teacherSteps, steps, evalEvery, batch, length, lr, modes, divergence, temperature, alpha, topK, seqKdTokens, trainVerses, heldOutEvery, seed, device, threads, cache, output, text, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new DistillLmSettings
            {
                Teacher = parse.GetValue(teacher)!,
                Student = parse.GetValue(student)!,
                TeacherSteps = parse.GetValue(teacherSteps),
                Steps = parse.GetValue(steps),
                EvaluateEvery = parse.GetValue(evalEvery),
                BatchSize = parse.GetValue(batch),
                SequenceLength = parse.GetValue(length),
                LearningRate = parse.GetValue(lr),
                Modes = parse.GetValue(modes)!,
                Divergence = parse.GetValue(divergence)!,
                Temperature = parse.GetValue(temperature),
                Alpha = parse.GetValue(alpha),
                TopK = parse.GetValue(topK),
                SequenceKdTokens = parse.GetValue(seqKdTokens),
                TrainVerses = parse.GetValue(trainVerses),
                HeldOutEvery = parse.GetValue(heldOutEvery),
                Seed = parse.GetValue(seed),
                Device = parse.GetValue(device)!,
                Threads = parse.GetValue(threads),
                CacheDirectory = parse.GetValue(cache)!,
                OutputDirectory = parse.GetValue(output)!,
                TextPath = parse.GetValue(text),
                JsonPath = parse.GetValue(json),
            };
            using var interrupt = new ConsoleInterrupt(cancellationToken);
            return await RunAsync(settings, Console.Out, interrupt.Token).ConfigureAwait(false);
        });
        return command;
    }

    internal static async Task<int> RunAsync(DistillLmSettings settings, TextWriter output, CancellationToken cancellationToken)
    {
        try
        {
            DistillLmReport report = await new DistillLmRunner(settings, output).RunAsync(cancellationToken).ConfigureAwait(false);
            output.WriteLine();
            output.Write(FormatTable(report));
            if (settings.JsonPath is { } path)
            {
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(report, CliJsonContext.Default.DistillLmReport));
                output.WriteLine($"results written to {path}");
            }

            return 0;
        }
        catch (Exception ex) when (CliFailure.Describe(ex, "A cached teacher and the students' weights written before are kept.") is { } message)
        {
            await Console.Error.WriteLineAsync($"kd distill-lm: {message}").ConfigureAwait(false);
            return CliFailure.ExitCode;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("kd distill-lm: cancelled.").ConfigureAwait(false);
            return 130;
        }
    }

    internal static string FormatTable(DistillLmReport r)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine(c, $"{r.Corpus}: {r.TrainTokens:N0} training / {r.HeldOutTokens:N0} held-out tokens ({r.Tokenizer}); batch {r.BatchSize} × {r.SequenceLength}, {r.Divergence} T={r.Temperature} α={r.Alpha}, top-k {r.TopK}, seed {r.Seed}");
        sb.AppendLine("| model | shape | parameters | steps | train time (s) | held-out perplexity | KL to teacher | greedy agreement |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (LmModelReport m in new[] { r.Teacher }.Concat(r.Students))
        {
            sb.AppendLine(c, $"| {m.Name} | {m.Architecture} | {m.Parameters:N0} | {m.Steps} | {m.TrainSeconds:F0} | {m.HeldOutPerplexity:F3} | {(m.HeldOutKlToTeacher is { } kl ? kl.ToString("F4", c) : "")} | {(m.GreedyAgreement is { } a ? a.ToString("P1", c) : "")} |");
        }

        LmModelReport? scratch = r.Students.FirstOrDefault(s => s.Name.EndsWith("from scratch", StringComparison.Ordinal));
        if (scratch is not null)
        {
            foreach (LmModelReport s in r.Students.Where(s => s != scratch))
            {
                sb.AppendLine(c, $"{s.Name}: {(s.HeldOutPerplexity - scratch.HeldOutPerplexity) / scratch.HeldOutPerplexity:+0.0%;-0.0%} perplexity against scratch");
            }
        }

        sb.AppendLine(c, $"total time {r.TotalSeconds:F0} s");
        return sb.ToString();
    }
}
