using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using KnowledgeDistillation.Cli.Distill;
using KnowledgeDistillation.IO;

namespace KnowledgeDistillation.Cli.Commands;

/// <summary><c>kd distill</c>: teacher, distilled student and the same student from scratch on Fashion-MNIST, measured side by side.</summary>
internal static class DistillCommand
{
    public static Command Create()
    {
        var d = new DistillSettings();
        var teacher = new Option<string>("--teacher") { Description = "Teacher architecture (mlp:H1,H2 | cnn:C1,C2[:bn,hidden=H,dropout=P]).", DefaultValueFactory = _ => d.Teacher };
        var student = new Option<string>("--student") { Description = "Student architecture, same syntax.", DefaultValueFactory = _ => d.Student };
        var teacherEpochs = new Option<int>("--teacher-epochs") { Description = "Teacher training epochs (the trained teacher is cached).", DefaultValueFactory = _ => d.TeacherEpochs };
        var noAugment = new Option<bool>("--no-teacher-augmentation") { Description = "Train the teacher on plain images (default: random crops with 2-pixel padding and horizontal flips)." };
        var epochs = new Option<int>("--epochs") { Description = "Student epochs (the same for the distilled and the scratch student).", DefaultValueFactory = _ => d.Epochs };
        var seeds = new Option<string>("--seeds") { Description = "Comma-separated seeds; results are averaged over them.", DefaultValueFactory = _ => string.Join(',', d.Seeds) };
        var temperature = new Option<string>("--temperature") { Description = "Temperature or schedule: 4 | linear:8:2 | cosine:8:2 | exp:8:2 | step:2,1.5,1,0.5.", DefaultValueFactory = _ => d.Temperature };
        var alpha = new Option<string>("--alpha") { Description = "Weight of the distillation term in [0,1], or a schedule.", DefaultValueFactory = _ => d.Alpha };
        var loss = new Option<string>("--loss") { Description = "Distillation loss by name, with parameters as name:key=value,…: " + string.Join("; ", KnowledgeDistillation.TorchSharp.Recipes.LossRegistry.Default.Descriptions.Select(kv => $"{kv.Key} ({kv.Value})")) + ".", DefaultValueFactory = _ => d.Loss };
        var method = new Option<string>("--method") { Description = "kd (logit distillation with --loss), at (attention transfer), fitnet (FitNets hints), sp (similarity-preserving), rkd (relational: distance + angle), or a combination such as at+kd, fitnet+kd. Without kd the logit part is plain cross-entropy.", DefaultValueFactory = _ => d.Method };
        var pairs = new Option<string?>("--pairs") { Description = "Layer pairs for the feature methods, student:teacher,… (default for cnn presets: at block_i:block_i, fitnet last student block:same-index teacher block, sp last blocks, rkd flatten:flatten)." };
        var hintEpochs = new Option<int>("--hint-epochs") { Description = "FitNets' two stages: the first N student epochs train on the feature (hint) losses only.", DefaultValueFactory = _ => d.HintEpochs };
        var featureWeight = new Option<float?>("--feature-weight") { Description = "Weight of each feature term (default per method: at 1000 (authors) or 1 (paper), fitnet 1, sp 3000, rkd 1)." };
        var atMode = new Option<string>("--at-mode") { Description = "Attention-transfer convention: authors (mean squared difference of normalised maps, β=1000) or paper (β/2 · L2 norm of the difference).", DefaultValueFactory = _ => d.AtMode };
        var batch = new Option<int>("--batch-size") { Description = "Batch size.", DefaultValueFactory = _ => d.BatchSize };
        var lr = new Option<double>("--lr") { Description = "Student peak learning rate (cosine decay).", DefaultValueFactory = _ => d.LearningRate };
        var optimizer = new Option<string>("--optimizer") { Description = "adamw or sgd (momentum 0.9).", DefaultValueFactory = _ => d.Optimizer };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N.", DefaultValueFactory = _ => d.Device };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for libtorch (default: libtorch's choice)." };
        var trainLimit = new Option<int?>("--train-limit") { Description = "Use only the first N training images (quick runs)." };
        var testLimit = new Option<int?>("--test-limit") { Description = "Use only the first N test images." };
        var output = new Option<string>("--out") { Description = "Folder for the students' weights.", DefaultValueFactory = _ => d.OutputDirectory };
        var cache = new Option<string>("--cache") { Description = "Folder where trained teachers are cached.", DefaultValueFactory = _ => d.CacheDirectory };
        var data = new Option<string?>("--data") { Description = "Folder with the Fashion-MNIST IDX files (default: KD_FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist)." };
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file." };
        var teacherCache = new Option<string?>("--teacher-cache") { Description = "Train the distilled students from this teacher cache (written by kd cache-teacher for the same training set and teacher) instead of running the teacher. A top-k cache uses the top-k form of --loss hinton." };
        var teachers = new Option<int>("--teachers") { Description = "Train N teachers with seeds 1000, 1001, … (each cached) and distil their ensemble (average of their probabilities); reports every member's and the ensemble's accuracy.", DefaultValueFactory = _ => 1 };
        var latency = new Option<int>("--latency-iterations") { Description = "Timed single-sample inferences per model (batch-64 uses a quarter).", DefaultValueFactory = _ => d.LatencyIterations };

        var command = new Command("distill", "Train a teacher (or load it from the cache), distil it into a student, train the same student from scratch with the same budget and seeds, and compare accuracy, size and latency on the Fashion-MNIST test set.")
        {
            teacher, student, teacherEpochs, noAugment, epochs, seeds, temperature, alpha, loss, method, pairs, hintEpochs, featureWeight, atMode, batch, lr, optimizer, device, threads, trainLimit, testLimit, output, cache, data, json, latency, teacherCache, teachers,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            DistillSettings settings;
            try
            {
                settings = new DistillSettings
                {
                    Teacher = parse.GetValue(teacher)!,
                    Student = parse.GetValue(student)!,
                    TeacherEpochs = parse.GetValue(teacherEpochs),
                    TeacherAugmentation = !parse.GetValue(noAugment),
                    Epochs = parse.GetValue(epochs),
                    Seeds = ParseSeeds(parse.GetValue(seeds)!),
                    Temperature = parse.GetValue(temperature)!,
                    Alpha = parse.GetValue(alpha)!,
                    Loss = parse.GetValue(loss)!,
                    Method = parse.GetValue(method)!,
                    Pairs = parse.GetValue(pairs),
                    HintEpochs = parse.GetValue(hintEpochs),
                    FeatureWeight = parse.GetValue(featureWeight),
                    AtMode = parse.GetValue(atMode)!,
                    BatchSize = parse.GetValue(batch),
                    LearningRate = parse.GetValue(lr),
                    Optimizer = parse.GetValue(optimizer)!,
                    Device = parse.GetValue(device)!,
                    Threads = parse.GetValue(threads),
                    TrainLimit = parse.GetValue(trainLimit),
                    TestLimit = parse.GetValue(testLimit),
                    OutputDirectory = parse.GetValue(output)!,
                    CacheDirectory = parse.GetValue(cache)!,
                    DataDirectory = parse.GetValue(data),
                    JsonPath = parse.GetValue(json),
                    LatencyIterations = parse.GetValue(latency),
                    TeacherCachePath = parse.GetValue(teacherCache),
                    Teachers = parse.GetValue(teachers),
                };
            }
            catch (Exception ex) when (ex is FormatException or ArgumentException)
            {
                await Console.Error.WriteLineAsync($"kd distill: {ex.Message}").ConfigureAwait(false);
                return 2;
            }
            using var interrupt = new ConsoleInterrupt(cancellationToken);
            return await RunAsync(settings, Console.Out, interrupt.Token).ConfigureAwait(false);
        });
        return command;
    }

    internal static async Task<int> RunAsync(DistillSettings settings, TextWriter output, CancellationToken cancellationToken)
    {
        try
        {
            DistillReport report = await new DistillRunner(settings, output).RunAsync(cancellationToken).ConfigureAwait(false);
            output.WriteLine();
            output.Write(FormatTable(report));
            if (settings.JsonPath is { } path)
            {
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(report, CliJsonContext.Default.DistillReport));
                output.WriteLine($"results written to {path}");
            }
            return 0;
        }
        catch (Exception ex) when (CliFailure.Describe(ex, DistillRunner.RerunNote) is { } message)
        {
            await Console.Error.WriteLineAsync($"kd distill: {message}").ConfigureAwait(false);
            return CliFailure.ExitCode;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"kd distill: cancelled. {DistillRunner.RerunNote}").ConfigureAwait(false);
            return 130;
        }
    }

    internal static string FormatTable(DistillReport r)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine(c, $"Fashion-MNIST test set ({r.TestSamples} images), {r.Seeds.Count} seed(s) [{string.Join(", ", r.Seeds)}], student epochs {r.Epochs}, method {r.Method}{(r.Pairs.Count == 0 ? "" : $" ({string.Join("; ", r.Pairs.Select(p => $"{p.Key} {p.Value}"))})")}{(r.HintEpochs > 0 ? $", hint epochs {r.HintEpochs}" : "")}, loss {r.Loss}, T {r.TemperatureSchedule}, alpha {r.AlphaSchedule}");
        sb.AppendLine("| model | architecture | accuracy (mean ± sd) | parameters | size | latency 1 p50/p99 (ms) | latency 64 p50/p99 (ms) | throughput (samples/s) |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach ((string name, ModelReport m) in new[] { ("teacher", r.Teacher), ("student (distilled)", r.StudentKd), ("student (scratch)", r.StudentScratch) })
        {
            sb.AppendLine(c, $"| {name} | {m.Architecture} | {m.Accuracy * 100:F2}% ± {m.AccuracyStd * 100:F2} | {m.Parameters:N0} | {m.SizeBytes / 1024.0:F1} KiB | {m.LatencyMs.P50:F3} / {m.LatencyMs.P99:F3} | {m.LatencyBatch64Ms.P50:F3} / {m.LatencyBatch64Ms.P99:F3} | {m.ThroughputSamplesPerSecond:F0} |");
        }
        sb.AppendLine(c, $"distillation gain: {r.KdGainPercentagePoints:+0.00;-0.00} percentage points (distilled − scratch, mean over seeds); total time {r.TotalSeconds:F0} s");
        return sb.ToString();
    }

    private static int[] ParseSeeds(string text) => OptionRules.Seeds(text);
}
