using KnowledgeDistillation.Training;

namespace KnowledgeDistillation.Cli.Commands;

/// <summary>
/// The failures the training and evaluation verbs report as one line on stderr with exit code 2 instead of a stack trace:
/// bad options and files (the message names the option or the file and the fix), and reading or writing failures such as a
/// full disk (files are written atomically, so what was complete before stays complete), and a diverged training run.
/// </summary>
internal static class CliFailure
{
    /// <summary>The exit code of every failure <see cref="Describe"/> knows.</summary>
    public const int ExitCode = 2;

    /// <summary>The line to print for <paramref name="exception"/>, or null when it is not a user-facing failure (a bug: let it surface).</summary>
    /// <param name="exception">What was thrown.</param>
    /// <param name="rerun">What a rerun does, appended to reading or writing failures (for example that finished students are kept).</param>
    public static string? Describe(Exception exception, string rerun = "") => exception switch
    {
        ArgumentException or FormatException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException or NotSupportedException => exception.Message,
        TrainingDivergedException => $"{exception.Message}{Suffix(rerun)}",
        UnauthorizedAccessException => $"{exception.Message} Choose a path this user may write to, or change its permissions.{Suffix(rerun)}",
        PathTooLongException => exception.Message,
        IOException => $"writing or reading a file failed: {exception.Message} Is the disk full, or the path on a read-only file system? Free some space or choose another folder, then run the same command again.{Suffix(rerun)}",
        _ => null,
    };

    private static string Suffix(string rerun) => rerun.Length == 0 ? "" : " " + rerun;
}
