using KnowledgeDistillation.Cli.Cache;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Cli.Distill;
using KnowledgeDistillation.Cli.Tests.Support;
using KnowledgeDistillation.IO;
using KnowledgeDistillation.Onnx.Tests.Runtime;
using KnowledgeDistillation.TorchSharp.Models;

namespace KnowledgeDistillation.Cli.Tests;

/// <summary>
/// What a hostile but realistic user does to the training and evaluation verbs — a full disk, a file where a folder is
/// expected and the reverse, an overflowing seed, a damaged weights file, a learning rate that diverges, a text too short,
/// an ONNX model fed the wrong size — ends in one line on stderr and exit code 2, never a stack trace.
/// </summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-hostile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

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
        CacheDirectory = Path.Combine(_dir, "cache"),
    };

    private static string[] DistillArguments(string cache, string output, string seeds = "0") =>
        ["distill", "--teacher", "mlp:16", "--student", "mlp:8", "--teacher-epochs", "1", "--epochs", "1", "--seeds", seeds, "--train-limit", "300", "--test-limit", "100",
         "--latency-iterations", "2", "--threads", "1", "--cache", cache, "--out", output];

    private string Weights(string name = "student.weights", string spec = "mlp:8")
    {
        string path = Path.Combine(_dir, name);
        using TorchModel model = TorchModel.FromPreset(spec, [1, 28, 28], 10, seed: 3);
        WeightsFile.Save(model, path);
        return path;
    }

    private static void NoStackTrace(string errors) => KdProcess.StackTraceLines(errors).Should().BeEmpty(errors);

    [Theory]
    [InlineData("cache")]
    [InlineData("out")]
    public async Task Distill_OnAFullDisk_SaysSo_Exit2(string full)
    {
        string cache = Path.Combine(_dir, "cache"), output = Path.Combine(_dir, "out");
        // 16 KiB: less than the teacher's (50 KiB) or a student's (25 KiB) weights file.
        (int code, string stdout, string errors) = await KdProcess.RunOnFullDiskAsync(full == "cache" ? cache : output, 16 << 10, DistillArguments(cache, output));

        code.Should().Be(2, $"stdout: {stdout}\nstderr: {errors}");
        errors.Should().Contain("kd distill: writing or reading a file failed").And.Contain("No space left on device").And.Contain("run the same command again");
        NoStackTrace(errors);
    }

    [Fact]
    public async Task CacheTeacher_OnAFullDisk_SaysSo_Exit2_AndKeepsCompletedShardsPromise()
    {
        string weights = Weights("teacher.weights", "mlp:16");
        string folder = Path.Combine(_dir, "teacher-cache");
        (int code, string stdout, string errors) = await KdProcess.RunOnFullDiskAsync(folder, 8 << 10,
            ["cache-teacher", "--out", folder, "--teacher", "mlp:16", "--teacher-weights", weights, "--train-limit", "600", "--rows-per-shard", "64", "--threads", "1"]);

        code.Should().Be(2, $"stdout: {stdout}\nstderr: {errors}");
        errors.Should().Contain("kd cache-teacher: writing or reading a file failed").And.Contain("No space left on device").And.Contain("Completed shards are kept");
        NoStackTrace(errors);
    }

    public static TheoryData<string> WrongKinds() =>
    [
        "distill --out file", "distill --cache file", "distill --data file", "distill --teacher-cache file", "distill --json folder",
        "distill-lm --out file", "distill-lm --cache file", "distill-lm --text folder", "distill-lm --json folder",
        "cache-teacher --out file", "cache-teacher --teacher-weights folder", "cache-teacher --data file",
        "export --out folder", "export --checkpoint folder", "export --json folder", "export --data file",
        "eval --onnx folder", "eval --checkpoint folder", "eval --json folder",
    ];

    [Theory]
    [MemberData(nameof(WrongKinds))]
    public async Task AFileWhereAFolderIsExpected_AndTheReverse_Exit2_NamingTheOption(string what)
    {
        string[] words = what.Split(' ');
        (string verb, string option, string kind) = (words[0], words[1], words[2]);
        string file = Path.Combine(_dir, "a-file");
        await File.WriteAllTextAsync(file, "not a folder");
        string folder = Directory.CreateDirectory(Path.Combine(_dir, "a-folder")).FullName;
        string path = kind == "file" ? file : folder;
        string weights = Weights();

        (int code, string errors) = await StandardError.CaptureAsync(async () =>
        {
            switch (verb)
            {
                case "distill":
                    DistillSettings d = Distill();
                    d = option switch
                    {
                        "--out" => d with { OutputDirectory = path },
                        "--cache" => d with { CacheDirectory = path },
                        "--data" => d with { DataDirectory = path },
                        "--teacher-cache" => d with { TeacherCachePath = path },
                        _ => d with { JsonPath = path },
                    };
                    return await DistillCommand.RunAsync(d, new StringWriter(), CancellationToken.None);
                case "distill-lm":
                    var l = new DistillLmSettings { Steps = 1, TeacherSteps = 1, Modes = "scratch", TrainVerses = 50, Threads = 1, CacheDirectory = Path.Combine(_dir, "cache"), OutputDirectory = Path.Combine(_dir, "out") };
                    l = option switch
                    {
                        "--out" => l with { OutputDirectory = path },
                        "--cache" => l with { CacheDirectory = path },
                        "--text" => l with { TextPath = path },
                        _ => l with { JsonPath = path },
                    };
                    return await DistillLmCommand.RunAsync(l, new StringWriter(), CancellationToken.None);
                case "cache-teacher":
                    var c = new CacheTeacherSettings { OutputDirectory = Path.Combine(_dir, "teacher-cache"), Teacher = "mlp:8", TeacherWeights = weights, TrainLimit = 300, Threads = 1 };
                    c = option switch
                    {
                        "--out" => c with { OutputDirectory = path },
                        "--teacher-weights" => c with { TeacherWeights = path },
                        _ => c with { DataDirectory = path },
                    };
                    return await CacheTeacherCommand.RunAsync(c, new StringWriter(), CancellationToken.None);
                case "export":
                    var e = new ExportCommand.Settings { Checkpoint = weights, Architecture = "mlp:8", Output = Path.Combine(_dir, "x.onnx"), TestLimit = 20 };
                    e = option switch
                    {
                        "--out" => e with { Output = path },
                        "--checkpoint" => e with { Checkpoint = path },
                        "--data" => e with { DataDirectory = path },
                        _ => e with { JsonPath = path },
                    };
                    var error = new StringWriter();
                    int exit = await ExportCommand.RunAsync(e, new StringWriter(), error, CancellationToken.None);
                    await Console.Error.WriteAsync(error.ToString());
                    return exit;
                default:
                    string onnx = Path.Combine(_dir, "x.onnx");
                    await ExportCommand.RunAsync(new ExportCommand.Settings { Checkpoint = weights, Architecture = "mlp:8", Output = onnx, TestLimit = 20 }, new StringWriter(), new StringWriter(), CancellationToken.None);
                    var v = new EvalCommand.Settings { OnnxFiles = [onnx], TestLimit = 20, Iterations = 1 };
                    v = option switch
                    {
                        "--onnx" => v with { OnnxFiles = [path] },
                        "--checkpoint" => v with { Checkpoint = path, Architecture = "mlp:8" },
                        _ => v with { JsonPath = path },
                    };
                    (int evalCode, _, string evalErrors) = await KdProcess.RunAsync(
                        ["eval", .. v.OnnxFiles.SelectMany(f => new[] { "--onnx", f }), "--test-limit", "20", "--iterations", "1",
                         .. v.Checkpoint is null ? Array.Empty<string>() : ["--checkpoint", v.Checkpoint, "--arch", "mlp:8"],
                         .. v.JsonPath is null ? Array.Empty<string>() : ["--json", v.JsonPath]]);
                    await Console.Error.WriteAsync(evalErrors);
                    return evalCode;
            }
        });

        code.Should().Be(2, errors);
        errors.Should().Contain($"kd {verb}: {option} '{path}' is a {kind}", "the message names the option, the path and what it is");
        errors.Should().NotContain("Access to the path").And.NotContain("denied");
        NoStackTrace(errors);
        File.ReadAllText(file).Should().Be("not a folder", "the file given is left alone");
        Directory.GetFileSystemEntries(folder).Should().BeEmpty("nothing is written into the folder given");
    }

    [Theory]
    [InlineData("99999999999", "99999999999 is out of range")]
    [InlineData("0,-99999999999999999999999", "-99999999999999999999999 is out of range")]
    [InlineData("1,1", "repeats seed 1")]
    [InlineData("zero", "'zero' is not a whole number")]
    public async Task Seeds_ThatOverflowRepeatOrAreNotNumbers_Exit2(string seeds, string expected)
    {
        (int code, string stdout, string errors) = await KdProcess.RunAsync(DistillArguments(Path.Combine(_dir, "cache"), Path.Combine(_dir, "out"), seeds));

        code.Should().Be(2, $"stdout: {stdout}\nstderr: {errors}");
        errors.Should().Contain($"kd distill: --seeds '{seeds}'").And.Contain(expected);
        NoStackTrace(errors);
        Directory.Exists(Path.Combine(_dir, "cache")).Should().BeFalse();
    }

    [Fact]
    public async Task Eval_AnOnnxModelWithUnspecifiedInputDimensions_FedTheWrongSize_Exit2_NamingBothShapes()
    {
        // Valid ONNX whose input [N, C, H, W] is all symbolic: it loads, then needs 32 × 32 images where kd eval gives 28 × 28.
        string model = Path.Combine(_dir, "symbolic.onnx");
        await File.WriteAllBytesAsync(model, TinyOnnxModel.FlattenMatMul(1024, 10));

        (int code, string stdout, string errors) = await KdProcess.RunAsync(["eval", "--onnx", model, "--test-limit", "10", "--iterations", "1"]);

        code.Should().Be(2, $"stdout: {stdout}\nstderr: {errors}");
        errors.Should().Contain("kd eval: ONNX model").And.Contain("could not run on input").And.Contain("[?, ?, ?, ?]");
        NoStackTrace(errors);
    }

    [Fact]
    public async Task ADivergingLearningRate_SaysTheLossDivergedAtStepN_AndSuggestsALowerLr()
    {
        (int code, string errors) = await StandardError.CaptureAsync(() =>
            DistillCommand.RunAsync(Distill() with { LearningRate = 1e6, Epochs = 2, TrainLimit = 1000 }, new StringWriter(), CancellationToken.None));

        code.Should().Be(2, errors);
        errors.Should().MatchRegex(@"kd distill: the distilled seed 0 student's loss diverged at step \d+ of \d+ \(epoch [12]\)");
        errors.Should().Contain("try a lower --lr").And.NotContain("SkipFiniteCheck");
    }

    [Fact]
    public async Task DistillLm_OnATextTooShort_NamesTheTextTheCountsAndTheOptions()
    {
        string text = Path.Combine(_dir, "short.txt");
        await File.WriteAllLinesAsync(text, ["In the beginning God created the heaven and the earth.", "And the earth was without form.", "And God said."]);

        (int code, string errors) = await StandardError.CaptureAsync(() => DistillLmCommand.RunAsync(
            new DistillLmSettings { TextPath = text, Steps = 1, TeacherSteps = 1, HeldOutEvery = 2, Threads = 1, Modes = "scratch", CacheDirectory = Path.Combine(_dir, "cache"), OutputDirectory = Path.Combine(_dir, "out") },
            new StringWriter(), CancellationToken.None));

        code.Should().Be(2, errors);
        errors.Should().Contain($"--text '{text}' has 3 verse(s)").And.Contain("--sequence-length 64 needs at least 65 tokens").And.NotContain("[1, 0)").And.NotContain("sequenceLength must be");
    }

    [Fact]
    public async Task DamagedWeights_AreRefusedByExportEvalAndCacheTeacher_WithExit2()
    {
        string weights = Weights("damaged.weights", "mlp:16");
        byte[] bytes = await File.ReadAllBytesAsync(weights);
        bytes[^100] ^= 0x10; // one flipped bit in the payload
        await File.WriteAllBytesAsync(weights, bytes);
        var error = new StringWriter();

        (await ExportCommand.RunAsync(new ExportCommand.Settings { Checkpoint = weights, Architecture = "mlp:16", Output = Path.Combine(_dir, "x.onnx"), TestLimit = 10 }, new StringWriter(), error, CancellationToken.None))
            .Should().Be(2);
        error.ToString().Should().Contain("kd export: Weights file").And.Contain("is damaged (SHA-256 mismatch)");
        File.Exists(Path.Combine(_dir, "x.onnx")).Should().BeFalse();

        (int evalCode, _, string evalErrors) = await KdProcess.RunAsync(["eval", "--onnx", await SomeOnnxAsync(), "--checkpoint", weights, "--arch", "mlp:16", "--test-limit", "10", "--iterations", "1"]);
        evalCode.Should().Be(2, evalErrors);
        evalErrors.Should().Contain("kd eval: Weights file").And.Contain("is damaged");
        NoStackTrace(evalErrors);

        (int cacheCode, string cacheErrors) = await StandardError.CaptureAsync(() => CacheTeacherCommand.RunAsync(
            new CacheTeacherSettings { OutputDirectory = Path.Combine(_dir, "teacher-cache"), Teacher = "mlp:16", TeacherWeights = weights, TrainLimit = 100, Threads = 1 }, new StringWriter(), CancellationToken.None));
        cacheCode.Should().Be(2, cacheErrors);
        cacheErrors.Should().Contain("kd cache-teacher: Weights file").And.Contain("is damaged");
    }

    private async Task<string> SomeOnnxAsync()
    {
        string onnx = Path.Combine(_dir, "good.onnx");
        (await ExportCommand.RunAsync(new ExportCommand.Settings { Checkpoint = Weights(), Architecture = "mlp:8", Output = onnx, TestLimit = 10 }, new StringWriter(), new StringWriter(), CancellationToken.None)).Should().Be(0);
        return onnx;
    }
}
