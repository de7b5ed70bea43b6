using System.Globalization;

namespace KnowledgeDistillation.Cli.Distill;

/// <summary>
/// The memory this process may use: the smallest of its cgroup's memory limit (cgroup v2 <c>memory.max</c>, or v1
/// <c>memory.limit_in_bytes</c>, on its own cgroup and the ones above it) and the physical memory (<c>MemTotal</c> in
/// <c>/proc/meminfo</c>). Elsewhere than Linux, what .NET reports as available.
/// </summary>
/// <param name="Bytes">The limit in bytes.</param>
/// <param name="Source">Where it comes from, for messages.</param>
internal sealed record MemoryLimit(long Bytes, string Source)
{
    // cgroup v1 writes "no limit" as a huge page-aligned number (9223372036854771712); anything this large is no limit.
    private const long Unlimited = 1L << 60;

    /// <summary>Reads the limit under <paramref name="root"/> (the file system root; tests pass a folder holding fake proc and sys files).</summary>
    public static MemoryLimit Detect(string root = "/")
    {
        MemoryLimit? best = null;
        foreach ((string file, string text) in CgroupFiles(root))
        {
            string value = text.Trim();
            if (value == "max" || !long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long bytes) || bytes <= 0 || bytes >= Unlimited)
            {
                continue;
            }
            if (best is null || bytes < best.Bytes)
            {
                best = new MemoryLimit(bytes, $"the cgroup memory limit in {file}");
            }
        }
        string meminfo = Path.Combine(root, "proc", "meminfo");
        if (TryRead(meminfo) is { } info)
        {
            foreach (string line in info.Split('\n'))
            {
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && parts[0] == "MemTotal:" && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long kib) && kib > 0)
                {
                    long physical = kib * 1024;
                    if (best is null || physical < best.Bytes)
                    {
                        best = new MemoryLimit(physical, $"the physical memory (MemTotal in {meminfo})");
                    }
                }
            }
        }
        return best ?? new MemoryLimit(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, "the memory .NET reports available");
    }

    // The memory limit files of this process's cgroup and of every cgroup above it, for v2 and v1 hierarchies.
    private static IEnumerable<(string File, string Text)> CgroupFiles(string root)
    {
        string sys = Path.Combine(root, "sys", "fs", "cgroup");
        var candidates = new List<string>
        {
            Path.Combine(sys, "memory.max"),
            Path.Combine(sys, "memory", "memory.limit_in_bytes"),
        };
        if (TryRead(Path.Combine(root, "proc", "self", "cgroup")) is { } membership)
        {
            foreach (string line in membership.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                // "0::/path" (v2) or "4:memory:/path" (v1).
                string[] fields = line.Split(':', 3);
                if (fields.Length != 3)
                {
                    continue;
                }
                bool v2 = fields[0] == "0" && fields[1].Length == 0;
                bool v1 = fields[1].Split(',').Contains("memory");
                if (!v2 && !v1)
                {
                    continue;
                }
                string baseFolder = v2 ? sys : Path.Combine(sys, "memory");
                string file = v2 ? "memory.max" : "memory.limit_in_bytes";
                string[] segments = fields[2].Split('/', StringSplitOptions.RemoveEmptyEntries);
                for (int n = segments.Length; n >= 1; n--)
                {
                    candidates.Add(Path.Combine([baseFolder, .. segments[..n], file]));
                }
            }
        }
        foreach (string file in candidates.Distinct(StringComparer.Ordinal))
        {
            if (TryRead(file) is { } text)
            {
                yield return (file, text);
            }
        }
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
