using System.Diagnostics;
using System.Text;
using KnowledgeDistillation.IO;

namespace KnowledgeDistillation.Datasets;

/// <summary>
/// The King James Bible (public domain) as plain text, from Debian's <c>bible-kjv-text</c> package: the verses are read
/// with the package's <c>bible</c> program once and kept as a UTF-8 text file (one verse a line, references stripped),
/// so training and tests run offline. Install with <c>apt-get install bible-kjv-text</c> (eng/test.sh does).
/// </summary>
public static class KingJamesBible
{
    /// <summary>The program of package <c>bible-kjv</c> that reads the compressed text.</summary>
    public const string DefaultProgram = "/usr/bin/bible";

    /// <summary>The verse range that covers the whole book.</summary>
    public const string WholeBook = "Gen1:1-Rev22:21";

    /// <summary>
    /// The default cache file: <c>$KD_KJV_TEXT</c> when set, else <c>kjv.txt</c> under the user's local application data
    /// (<c>~/.local/share/knowledge-distillation</c> on Linux).
    /// </summary>
    public static string DefaultTextPath =>
        Environment.GetEnvironmentVariable("KD_KJV_TEXT") is { Length: > 0 } path
            ? path
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "knowledge-distillation", "kjv.txt");

    /// <summary>
    /// The verses, one string each, in book order. Reads <paramref name="textPath"/> when it exists; otherwise extracts the
    /// text with <paramref name="program"/> and writes it there atomically (temp file + rename), so the next call is a file read.
    /// </summary>
    /// <param name="textPath">The cache file; null means <see cref="DefaultTextPath"/>.</param>
    /// <param name="program">The <c>bible</c> program; null means <see cref="DefaultProgram"/>.</param>
    /// <exception cref="FileNotFoundException">Neither the text file nor the program exists; the message says what to install.</exception>
    public static IReadOnlyList<string> LoadVerses(string? textPath = null, string? program = null)
    {
        textPath ??= DefaultTextPath;
        if (!File.Exists(textPath))
        {
            Extract(program ?? DefaultProgram, textPath);
        }

        string[] lines = File.ReadAllLines(textPath, Encoding.UTF8);
        var verses = new List<string>(lines.Length);
        foreach (string line in lines)
        {
            if (line.Length > 0)
            {
                verses.Add(line);
            }
        }

        if (verses.Count == 0)
        {
            throw new InvalidDataException($"'{textPath}' holds no verses; delete it so it is extracted again.");
        }

        return verses;
    }

    private static void Extract(string program, string textPath)
    {
        if (!File.Exists(program))
        {
            throw new FileNotFoundException(
                $"The King James Bible text is not at '{textPath}' and the program '{program}' that extracts it is missing. Install the Debian package: apt-get install bible-kjv-text (it brings bible-kjv), or point KD_KJV_TEXT at a text file with one verse a line.",
                program);
        }

        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add("-f");
        start.ArgumentList.Add(WholeBook);
        start.Environment["COLUMNS"] = "100000"; // one verse a line, never wrapped
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{program}'.");
        Task<string> errors = process.StandardError.ReadToEndAsync();
        var verses = new StringBuilder();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            // "Ge1:1 In the beginning ..." → "In the beginning ..."
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0 && char.IsDigit(line[space - 1]))
            {
                verses.Append(line.AsSpan(space + 1)).Append('\n');
            }
        }

        process.WaitForExit();
        if (process.ExitCode != 0 || verses.Length == 0)
        {
            throw new InvalidOperationException($"'{program} -f {WholeBook}' failed (exit code {process.ExitCode}): {errors.Result}");
        }

        AtomicFile.WriteAllText(textPath, verses.ToString());
    }
}
