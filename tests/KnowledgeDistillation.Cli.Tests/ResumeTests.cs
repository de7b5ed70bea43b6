using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Cli.Distill;
using KnowledgeDistillation.Cli.Tests.Support;

namespace KnowledgeDistillation.Cli.Tests;

/// <summary>
/// kd distill resumes per student: each finished student's weights and a small record of its results are kept in --out
/// (atomically, the weights first), and a rerun with the same options skips them and reproduces the same results.
/// </summary>
public sealed class ResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string[] Arguments(string output, string json) =>
    [
        "distill", "--teacher", "mlp:64", "--student", "mlp:16", "--teacher-epochs", "2", "--epochs", "2", "--seeds", "0,1", "--train-limit", "2000",
        "--test-limit", "500", "--latency-iterations", "2", "--threads", "1", "--cache", Path.Combine(_dir, "cache"), "--out", output, "--json", json,
    ];

    [Fact]
    public async Task AKilledRun_RerunWithTheSameOptions_SkipsTheFinishedStudents_AndReportsWhatAnUninterruptedRunReports()
    {
        // The uninterrupted run (it also trains and caches the teacher both runs share).
        string whole = Path.Combine(_dir, "whole"), wholeJson = Path.Combine(_dir, "whole.json");
        (int code, string stdout, string errors) = await KdProcess.RunAsync(Arguments(whole, wholeJson), TimeSpan.FromMinutes(5));
        code.Should().Be(0, $"{stdout}\n{errors}");

        // The same run killed (SIGKILL: no chance to clean up) as soon as its first student is saved.
        string killed = Path.Combine(_dir, "killed"), killedJson = Path.Combine(_dir, "killed.json");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in new[] { KdProcess.BuiltTool() }.Concat(Arguments(killed, killedJson)))
        {
            start.ArgumentList.Add(argument);
        }
        using (var process = Process.Start(start)!)
        {
            var saved = new TaskCompletionSource();
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data?.Contains("distilled seed 0: weights and results kept", StringComparison.Ordinal) == true)
                {
                    process.Kill();
                    saved.TrySetResult();
                }
            };
            process.BeginOutputReadLine();
            _ = process.StandardError.ReadToEndAsync();
            try
            {
                await saved.Task.WaitAsync(TimeSpan.FromMinutes(3));
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            finally
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }
            }
        }
        File.Exists(killedJson).Should().BeFalse("the killed run did not finish");
        Directory.GetFiles(killed, "*.weights").Select(Path.GetFileName).Should().Contain("student-kd-seed0.weights").And.NotContain("student-kd-seed1.weights");

        (code, stdout, errors) = await KdProcess.RunAsync(Arguments(killed, killedJson), TimeSpan.FromMinutes(5));

        code.Should().Be(0, $"{stdout}\n{errors}");
        stdout.Should().Contain("distilled seed 0: finished in an earlier run with the same options").And.Contain("scratch seed 1: weights and results kept");
        stdout.Should().NotContain("distilled seed 0: epoch", "the finished student is not trained again");
        foreach (string model in new[] { "teacher", "student_kd", "student_scratch" })
        {
            PerSeed(killedJson, model).Should().Equal(PerSeed(wholeJson, model), $"{model}: the resumed run reports what the uninterrupted one does");
        }
        // Every student, trained in the killed run, after the restart, or in the uninterrupted run, is the same file bit for bit.
        string[] files = [.. Directory.GetFiles(whole).Select(Path.GetFileName).Order()!];
        Directory.GetFiles(killed).Select(Path.GetFileName).Order().Should().Equal(files, "only complete files remain: no temporary file of the killed write");
        foreach (string file in files.Where(f => f!.EndsWith(".weights", StringComparison.Ordinal)))
        {
            Sha256(Path.Combine(killed, file!)).Should().Be(Sha256(Path.Combine(whole, file!)), file);
        }
    }

    [Theory]
    [InlineData("other options")]
    [InlineData("damaged weights")]
    [InlineData("unreadable record")]
    public async Task AStudentKeptByAnotherRun_OrDamaged_IsTrainedAgain_AndSaysWhy(string what)
    {
        var settings = new DistillSettings
        {
            Teacher = "mlp:32",
            Student = "mlp:8",
            TeacherEpochs = 1,
            Epochs = 1,
            Seeds = [0],
            TrainLimit = 500,
            TestLimit = 100,
            LatencyIterations = 2,
            Threads = 1,
            OutputDirectory = Path.Combine(_dir, "out"),
            CacheDirectory = Path.Combine(_dir, "cache"),
        };
        (await DistillCommand.RunAsync(settings, new StringWriter(), CancellationToken.None)).Should().Be(0);
        string weights = Path.Combine(settings.OutputDirectory, "student-kd-seed0.weights");
        string record = Path.Combine(settings.OutputDirectory, "student-kd-seed0.json");
        string reason;
        switch (what)
        {
            case "other options":
                settings = settings with { LearningRate = 1e-3 };
                reason = "it was trained with other options, data or teacher";
                break;
            case "damaged weights":
                byte[] bytes = await File.ReadAllBytesAsync(weights);
                bytes[^10] ^= 1;
                await File.WriteAllBytesAsync(weights, bytes);
                reason = "its weights file is not the one its record names";
                break;
            default:
                await File.WriteAllTextAsync(record, "{ \"format\": 1, \"key\": ");
                reason = "its record is not readable";
                break;
        }
        var output = new StringWriter();

        (await DistillCommand.RunAsync(settings, output, CancellationToken.None)).Should().Be(0, output.ToString());

        output.ToString().Should().Contain($"distilled seed 0: {weights} is not reused ({reason}); training it").And.Contain("distilled seed 0: epoch 1/1");
        if (what != "other options")
        {
            output.ToString().Should().Contain("scratch seed 0: finished in an earlier run", "the untouched student is reused");
        }
        using JsonDocument kept = JsonDocument.Parse(await File.ReadAllTextAsync(record));
        kept.RootElement.GetProperty("weights_sha256").GetString().Should().Be(Sha256(weights), "the new record names the new weights");
    }

    private static double[] PerSeed(string json, string model)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        return [.. doc.RootElement.GetProperty(model).GetProperty("accuracy_per_seed").EnumerateArray().Select(e => e.GetDouble())];
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
