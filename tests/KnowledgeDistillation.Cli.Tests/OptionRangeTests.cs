using System.Globalization;
using KnowledgeDistillation.Cli.Cache;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Cli.Distill;
using KnowledgeDistillation.Cli.Tests.Support;

namespace KnowledgeDistillation.Cli.Tests;

/// <summary>
/// Every numeric option of every training and evaluation verb is checked against its range before any work: exit code
/// 2 and one line naming the option, the value and the valid range; no crash in native code, no hang, nothing written.
/// </summary>
public sealed class OptionRangeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-ranges-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Cache => Path.Combine(_dir, "cache");

    private DistillSettings Distill() => new()
    {
        Teacher = "mlp:16",
        Student = "mlp:8",
        TeacherEpochs = 1,
        Epochs = 1,
        Seeds = [0],
        TrainLimit = 300,
        TestLimit = 100,
        LatencyIterations = 2,
        Threads = 1,
        OutputDirectory = Path.Combine(_dir, "out"),
        CacheDirectory = Cache,
    };

    private DistillLmSettings DistillLm() => new()
    {
        Teacher = "layers=1,heads=2,width=32,context=32",
        Student = "layers=1,heads=2,width=16,context=32",
        TeacherSteps = 2,
        Steps = 2,
        BatchSize = 2,
        SequenceLength = 16,
        Modes = "scratch",
        TrainVerses = 50,
        HeldOutEvery = 500,
        Threads = 1,
        CacheDirectory = Cache,
        OutputDirectory = Path.Combine(_dir, "out"),
    };

    private CacheTeacherSettings CacheTeacher() => new()
    {
        OutputDirectory = Path.Combine(_dir, "teacher-cache"),
        Teacher = "mlp:16",
        TeacherDirectory = Cache,
        TeacherEpochs = 1,
        Threads = 1,
        TrainLimit = 300,
    };

    private string WeightsFile()
    {
        string path = Path.Combine(_dir, "student.weights");
        using var model = KnowledgeDistillation.TorchSharp.Models.TorchModel.FromPreset("mlp:8", [1, 28, 28], 10, seed: 0);
        KnowledgeDistillation.IO.WeightsFile.Save(model, path);
        return path;
    }

    // --threads 0 and -1 ended the process in native code (exit 134) and 100000 hung creating threads: run as real processes.
    public static TheoryData<string, string> Threads() => new()
    {
        { "distill", "0" },
        { "distill", "-1" },
        { "distill", "100000" },
        { "distill-lm", "0" },
        { "cache-teacher", "100000" },
        { "eval", "-1" },
    };

    [Theory]
    [MemberData(nameof(Threads))]
    public async Task Threads_OutOfRange_AreRefusedNamingTheRange_WithoutCrashOrHang(string verb, string threads)
    {
        string model = Path.Combine(_dir, "model.onnx");
        await File.WriteAllBytesAsync(model, [1, 2, 3]);
        string[] arguments = verb switch
        {
            "distill" => ["distill", "--teacher", "mlp:16", "--student", "mlp:8", "--train-limit", "300", "--test-limit", "100", "--cache", Cache, "--out", Path.Combine(_dir, "out"), "--threads", threads],
            "distill-lm" => ["distill-lm", "--steps", "2", "--teacher-steps", "2", "--cache", Cache, "--out", Path.Combine(_dir, "out"), "--threads", threads],
            "cache-teacher" => ["cache-teacher", "--out", Path.Combine(_dir, "teacher-cache"), "--cache", Cache, "--threads", threads],
            _ => ["eval", "--onnx", model, "--test-limit", "10", "--threads", threads],
        };

        (int code, string output, string errors) = await KdProcess.RunAsync(arguments, TimeSpan.FromSeconds(90));

        code.Should().Be(2, $"stdout: {output}\nstderr: {errors}");
        int max = Environment.ProcessorCount * 4;
        errors.Should().Contain($"kd {verb}: --threads {threads} is out of range").And.Contain($"from 1 to {max.ToString(CultureInfo.InvariantCulture)}");
        KdProcess.StackTraceLines(errors).Should().BeEmpty();
        Directory.Exists(Cache).Should().BeFalse("nothing was trained");
    }

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string c in new[]
        {
            "distill --epochs 0", "distill --teacher-epochs 0", "distill --batch-size 0", "distill --lr NaN", "distill --lr -0.1", "distill --lr ∞",
            "distill --test-limit 0", "distill --train-limit -5", "distill --latency-iterations 0", "distill --teachers 17", "distill --feature-weight -1",
            "distill-lm --steps 0", "distill-lm --teacher-steps 0", "distill-lm --batch-size 0", "distill-lm --sequence-length 0", "distill-lm --lr 0",
            "distill-lm --temperature 0", "distill-lm --alpha 1.5", "distill-lm --top-k 0", "distill-lm --top-k 300", "distill-lm --seqkd-tokens 0",
            "distill-lm --train-verses 0", "distill-lm --held-out-every 1", "distill-lm --eval-every 3",
            "cache-teacher --rows-per-shard 0", "cache-teacher --batch-size 0", "cache-teacher --top-k 11", "cache-teacher --train-limit 0",
            "cache-teacher --distill-batch-size 0", "cache-teacher --teacher-epochs 0",
            "export --test-limit 0", "export --percentile 0", "export --percentile 101", "export --min-fan-in -1", "export --calibration -1", "export --temperature -1",
            "eval --test-limit 0", "eval --iterations 0",
        })
        {
            int space = c.IndexOf(' ', StringComparison.Ordinal);
            data.Add(c[..space], c[(space + 1)..]);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task NumericOptions_OutOfRange_Exit2_NamingOptionValueAndRange_BeforeAnyWork(string verb, string option)
    {
        string name = option[..option.IndexOf(' ', StringComparison.Ordinal)];
        string text = option[(name.Length + 1)..];
        double value = text == "∞" ? double.PositiveInfinity : double.Parse(text, CultureInfo.InvariantCulture);
        int whole = double.IsFinite(value) ? (int)value : 0;
        string weights = verb is "export" or "eval" ? WeightsFile() : "";

        (int code, string errors) = await StandardError.CaptureAsync(async () =>
        {
            switch (verb)
            {
                case "distill":
                    DistillSettings d = Distill();
                    d = name switch
                    {
                        "--epochs" => d with { Epochs = whole },
                        "--teacher-epochs" => d with { TeacherEpochs = whole },
                        "--batch-size" => d with { BatchSize = whole },
                        "--lr" => d with { LearningRate = value },
                        "--test-limit" => d with { TestLimit = whole },
                        "--train-limit" => d with { TrainLimit = whole },
                        "--latency-iterations" => d with { LatencyIterations = whole },
                        "--teachers" => d with { Teachers = whole },
                        _ => d with { FeatureWeight = (float)value, Method = "at+kd", Teacher = "cnn:8,16", Student = "cnn:4,8" },
                    };
                    return await DistillCommand.RunAsync(d, new StringWriter(), CancellationToken.None);
                case "distill-lm":
                    DistillLmSettings l = DistillLm();
                    l = name switch
                    {
                        "--steps" => l with { Steps = whole },
                        "--teacher-steps" => l with { TeacherSteps = whole },
                        "--batch-size" => l with { BatchSize = whole },
                        "--sequence-length" => l with { SequenceLength = whole },
                        "--lr" => l with { LearningRate = value },
                        "--temperature" => l with { Temperature = (float)value },
                        "--alpha" => l with { Alpha = (float)value },
                        "--top-k" => l with { TopK = whole },
                        "--seqkd-tokens" => l with { SequenceKdTokens = whole },
                        "--train-verses" => l with { TrainVerses = whole },
                        "--held-out-every" => l with { HeldOutEvery = whole },
                        _ => l with { EvaluateEvery = whole },
                    };
                    return await DistillLmCommand.RunAsync(l, new StringWriter(), CancellationToken.None);
                case "cache-teacher":
                    CacheTeacherSettings c = CacheTeacher();
                    c = name switch
                    {
                        "--rows-per-shard" => c with { RowsPerShard = whole },
                        "--batch-size" => c with { BatchSize = whole },
                        "--top-k" => c with { TopK = whole, Format = "topk" },
                        "--train-limit" => c with { TrainLimit = whole },
                        "--distill-batch-size" => c with { DistillBatchSize = whole },
                        _ => c with { TeacherEpochs = whole },
                    };
                    return await CacheTeacherCommand.RunAsync(c, new StringWriter(), CancellationToken.None);
                case "export":
                    var e = new ExportCommand.Settings { Checkpoint = weights, Architecture = "mlp:8", Output = Path.Combine(_dir, "x.onnx"), TestLimit = 10 };
                    e = name switch
                    {
                        "--test-limit" => e with { TestLimit = whole },
                        "--percentile" => e with { Percentile = value, Quantize = "int8", CalibrationMethod = "percentile" },
                        "--min-fan-in" => e with { MinimumFanIn = whole, Quantize = "int8" },
                        "--calibration" => e with { Calibration = whole, Quantize = "int8" },
                        _ => e with { Temperature = value },
                    };
                    var error = new StringWriter();
                    int exit = await ExportCommand.RunAsync(e, new StringWriter(), error, CancellationToken.None);
                    await Console.Error.WriteAsync(error.ToString());
                    return exit;
                default:
                    var v = new EvalCommand.Settings { OnnxFiles = [Path.Combine(_dir, "x.onnx")], Checkpoint = weights, Architecture = "mlp:8", TestLimit = 10, Iterations = 1 };
                    await File.WriteAllBytesAsync(v.OnnxFiles[0], [1, 2, 3]);
                    v = name == "--test-limit" ? v with { TestLimit = whole } : v with { Iterations = whole };
                    try
                    {
                        EvalCommand.Run(v);
                        return 0;
                    }
                    catch (ArgumentException ex)
                    {
                        await Console.Error.WriteLineAsync($"kd eval: {ex.Message}");
                        return 2;
                    }
            }
        });

        code.Should().Be(2, errors);
        errors.Should().Contain($"{name} {value.ToString(CultureInfo.InvariantCulture)} is out of range", "the message names the option and the value");
        errors.Should().MatchRegex("give (a|a finite) (whole )?number|give a whole number from", "the message gives the valid range");
        Directory.Exists(Cache).Should().BeFalse("nothing was trained");
        File.Exists(Path.Combine(_dir, "x.onnx.tmp")).Should().BeFalse();
    }
}
