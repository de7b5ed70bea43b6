using System.Diagnostics;

namespace KnowledgeDistillation.Cli.Tests;

/// <summary>Ctrl+C on a real kd process: the run stops at its next step and says so, instead of vanishing.</summary>
public sealed class InterruptTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-interrupt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task SigInt_DuringTraining_CancelsCleanly_WithAMessage_AndExit130()
    {
        string kd = BuiltTool();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[]
        {
            kd, "distill", "--teacher", "mlp:64", "--student", "mlp:16", "--teacher-epochs", "100000", "--train-limit", "2000",
            "--test-limit", "200", "--threads", "1", "--cache", Path.Combine(_dir, "cache"), "--out", Path.Combine(_dir, "out"),
        })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var training = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("teacher: epoch", StringComparison.Ordinal) == true)
            {
                training.TrySetResult();
            }
        };
        Task<string> errors = process.StandardError.ReadToEndAsync();
        process.BeginOutputReadLine();
        try
        {
            await training.Task.WaitAsync(TimeSpan.FromSeconds(60));
            using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        process.ExitCode.Should().Be(130);
        (await errors).Should().Contain("kd distill: cancelled.");
        Directory.Exists(Path.Combine(_dir, "cache")).Should().BeFalse("an interrupted teacher is not cached as if it were trained");
    }

    // The kd tool as its own project built it (its deps.json; the copy in this test's folder resolves this folder's
    // assembly versions instead), same configuration as these tests.
    private static string BuiltTool()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string framework = here.Name, configuration = here.Parent!.Name;
        DirectoryInfo? root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "KnowledgeDistillation.sln")))
        {
            root = root.Parent;
        }
        root.Should().NotBeNull("the tests run inside the repository");
        string kd = Path.Combine(root!.FullName, "src", "KnowledgeDistillation.Cli", "bin", configuration, framework, "kd.dll");
        File.Exists(kd).Should().BeTrue($"the solution build produces {kd}");
        return kd;
    }
}
