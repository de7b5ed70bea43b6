using System.Globalization;

namespace KnowledgeDistillation.Cli.Commands;

/// <summary>
/// The checks every training and evaluation verb runs on its options before any work: numeric ranges, and paths that
/// must be folders or files. Each failure is an <see cref="ArgumentException"/> whose message names the option, the value
/// and what is valid; the verbs print it and exit with code 2.
/// </summary>
internal static class OptionRules
{
    /// <summary>The most CPU threads a verb accepts: four per logical processor (more only makes libtorch and ONNX Runtime slower, and libtorch hangs creating 100 000).</summary>
    public static int MaxThreads => Environment.ProcessorCount * 4;

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>]; <paramref name="meaning"/> says what it counts.</summary>
    public static void Range(string option, long value, long min, long max, string meaning)
    {
        if (value < min || value > max)
        {
            throw new ArgumentException(Invariant($"{option} {value} is out of range: give a whole number from {min} to {max} ({meaning})."));
        }
    }

    /// <summary>As <see cref="Range(string, long, long, long, string)"/>; null (the option left out) passes.</summary>
    public static void Range(string option, long? value, long min, long max, string meaning)
    {
        if (value is { } v)
        {
            Range(option, v, min, max, meaning);
        }
    }

    /// <summary>A finite number greater than 0 and at most <paramref name="max"/> (<see cref="double.MaxValue"/>: any finite one).</summary>
    public static void Positive(string option, double value, double max, string meaning)
    {
        if (!(value > 0 && value <= max))
        {
            throw new ArgumentException(max == double.MaxValue
                ? Invariant($"{option} {value} is out of range: give a finite number greater than 0 ({meaning}).")
                : Invariant($"{option} {value} is out of range: give a number greater than 0 and at most {max} ({meaning})."));
        }
    }

    /// <summary>A finite number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static void Between(string option, double value, double min, double max, string meaning)
    {
        if (!(value >= min && value <= max))
        {
            throw new ArgumentException(Invariant($"{option} {value} is out of range: give a number from {min} to {max} ({meaning})."));
        }
    }

    /// <summary>
    /// CPU threads: 1 to <see cref="MaxThreads"/>, or left out (null) for the library's default. With
    /// <paramref name="zeroIsDefault"/>, 0 also means the default (as <c>kd eval --threads 0</c> does).
    /// </summary>
    public static void Threads(string option, int? value, bool zeroIsDefault = false)
    {
        if (value is not { } threads || (zeroIsDefault && threads == 0))
        {
            return;
        }
        if (threads < 1 || threads > MaxThreads)
        {
            throw new ArgumentException(Invariant(
                $"{option} {threads} is out of range: give a whole number from 1 to {MaxThreads} (at most 4 × the {Environment.ProcessorCount} logical processors of this machine){(zeroIsDefault ? ", or 0 for the runtime's default" : ", or leave it out for libtorch's default")}."));
        }
    }

    /// <summary>A folder the verb writes into (created when missing): refused when it names an existing file.</summary>
    public static void OutputFolder(string option, string? path, string what)
    {
        if (path is null)
        {
            return;
        }
        Text(option, path);
        if (File.Exists(path))
        {
            throw new ArgumentException($"{option} '{path}' is a file; {what} go into a folder: give a folder path (it is created when missing).");
        }
    }

    /// <summary>A folder the verb reads: refused when it names an existing file (a missing folder is reported by the reader, with what it looked for).</summary>
    public static void InputFolder(string option, string? path, string what)
    {
        if (path is null)
        {
            return;
        }
        Text(option, path);
        if (File.Exists(path))
        {
            throw new ArgumentException($"{option} '{path}' is a file; give the folder that holds {what}.");
        }
    }

    /// <summary>A file the verb writes (replaced atomically): refused when it names an existing folder.</summary>
    public static void OutputFile(string option, string? path, string what)
    {
        if (path is null)
        {
            return;
        }
        Text(option, path);
        if (Directory.Exists(path) || path.EndsWith(Path.DirectorySeparatorChar) || path.EndsWith(Path.AltDirectorySeparatorChar))
        {
            throw new ArgumentException($"{option} '{path}' is a folder; give the name of the file to write {what} to (for example {Path.Combine(path, Example(option))}).");
        }
    }

    /// <summary>A file the verb reads: refused when it names a folder or does not exist.</summary>
    public static void InputFile(string option, string? path, string what)
    {
        if (path is null)
        {
            return;
        }
        Text(option, path);
        if (Directory.Exists(path))
        {
            throw new ArgumentException($"{option} '{path}' is a folder; give the path of {what}.");
        }
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{option} '{path}' does not exist; give the path of {what}.", path);
        }
    }

    /// <summary>
    /// Parses <c>--seeds</c>: comma-separated 32-bit whole numbers, at least one, at most 1000, none repeated (each seed's
    /// students are kept under its number).
    /// </summary>
    public static int[] Seeds(string text)
    {
        string[] parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var seeds = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            string body = parts[i][0] is '-' or '+' ? parts[i][1..] : parts[i];
            bool digits = body.Length > 0 && body.All(char.IsAsciiDigit);
            if (!long.TryParse(parts[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long seed))
            {
                if (digits)
                {
                    seed = long.MaxValue; // a whole number too large even for 64 bits: out of range below
                }
                else
                {
                    throw new FormatException($"--seeds '{text}': '{parts[i]}' is not a whole number; give comma-separated whole numbers (for example 0,1,2).");
                }
            }
            if (seed < int.MinValue || seed > int.MaxValue)
            {
                throw new ArgumentException(Invariant($"--seeds '{text}': {parts[i]} is out of range: give whole numbers from {int.MinValue} to {int.MaxValue}."));
            }
            seeds[i] = (int)seed;
        }
        if (seeds.Length == 0)
        {
            throw new ArgumentException("--seeds is empty: give at least one seed (for example --seeds 0,1,2).");
        }
        if (seeds.Length > 1000)
        {
            throw new ArgumentException(Invariant($"--seeds gives {seeds.Length} seeds: give at most 1000."));
        }
        int? repeated = seeds.GroupBy(s => s).FirstOrDefault(g => g.Count() > 1)?.Key;
        if (repeated is { } r)
        {
            throw new ArgumentException(Invariant($"--seeds '{text}' repeats seed {r}: give each seed once (a seed's students are trained once and kept under its number)."));
        }
        return seeds;
    }

    private static void Text(string option, string path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new ArgumentException($"{option} is empty: give a path.");
        }
    }

    private static string Example(string option) => option switch
    {
        "--json" => "results.json",
        "--out" => "student.onnx",
        _ => "file",
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
