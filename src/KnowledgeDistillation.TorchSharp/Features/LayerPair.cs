namespace KnowledgeDistillation.TorchSharp.Features;

/// <summary>A student layer matched to a teacher layer, both by module name (for example <c>("block2", "block3")</c>).</summary>
/// <param name="Student">The student's layer name.</param>
/// <param name="Teacher">The teacher's layer name.</param>
public readonly record struct LayerPair(string Student, string Teacher)
{
    /// <summary>Parses <c>student:teacher[,student:teacher…]</c>, for example <c>block1:block1,block2:block3</c>.</summary>
    /// <exception cref="FormatException">The text is not a comma-separated list of <c>student:teacher</c> pairs.</exception>
    public static IReadOnlyList<LayerPair> ParseList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pairs = new List<LayerPair>();
        foreach (string item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] parts = item.Split(':', StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                throw new FormatException($"Layer pair '{item}' in '{text}' is not 'student:teacher' (example: block1:block1,block2:block3).");
            }
            pairs.Add(new LayerPair(parts[0], parts[1]));
        }
        if (pairs.Count == 0)
        {
            throw new FormatException($"'{text}' holds no layer pair; write student:teacher pairs separated by commas (example: block1:block1,block2:block3).");
        }
        return pairs;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Student}:{Teacher}";
}
