using System.Diagnostics;
using System.Globalization;

namespace KnowledgeDistillation.Cli.Tests.Support;

/// <summary>Runs the kd tool the solution built as a real process (what a user runs), bounded in time.</summary>
internal static class KdProcess
{
    /// <summary>The exit code, standard output and standard error of <c>kd <paramref name="arguments"/></c>.</summary>
    public static Task<(int Code, string Out, string Err)> RunAsync(IEnumerable<string> arguments, TimeSpan? timeout = null) =>
        RunAsync("dotnet", [BuiltTool(), .. arguments], timeout);

    /// <summary>
    /// Runs kd with a tiny tmpfs (<paramref name="bytes"/> bytes) mounted over <paramref name="folder"/> in a private mount
    /// namespace (<c>unshare -rm</c>, which needs no root): the disk is really full for kd, and the mount disappears with it.
    /// </summary>
    public static Task<(int Code, string Out, string Err)> RunOnFullDiskAsync(string folder, long bytes, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        Directory.CreateDirectory(folder);
        string script = "mount -t tmpfs -o size=" + bytes.ToString(CultureInfo.InvariantCulture) + " kd-test-full-disk \"$1\" || exit 97; shift; exec dotnet \"$@\"";
        return RunAsync("unshare", ["-rm", "bash", "-c", script, "kd-full-disk", folder, BuiltTool(), .. arguments], timeout);
    }

    /// <summary>Lines that show a .NET stack trace or an unhandled exception: a user-facing failure must have none.</summary>
    public static string[] StackTraceLines(string text) =>
        text.Split('\n').Where(l => l.StartsWith("   at ", StringComparison.Ordinal) || l.Contains("Unhandled exception", StringComparison.Ordinal) || l.Contains("--- End of stack trace", StringComparison.Ordinal)).ToArray();

    private static async Task<(int Code, string Out, string Err)> RunAsync(string program, IEnumerable<string> arguments, TimeSpan? timeout)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kd {string.Join(' ', start.ArgumentList)} did not finish within {timeout ?? TimeSpan.FromSeconds(120)} (a hang).");
        }
        return (process.ExitCode, await output, await errors);
    }

    /// <summary>The kd tool as its own project built it, same configuration as these tests.</summary>
    public static string BuiltTool()
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
