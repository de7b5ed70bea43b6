using System.Globalization;
using KnowledgeDistillation.TorchSharp.Features;

namespace KnowledgeDistillation.Cli.Distill;

/// <summary>
/// The distillation method of <c>kd distill --method</c>: <c>kd</c> (logit distillation with <c>--loss</c>), the feature
/// methods <c>at</c>, <c>fitnet</c>, <c>sp</c>, <c>rkd</c>, or combinations joined by <c>+</c> (<c>at+kd</c>). Without
/// <c>kd</c>, the logit part is the plain cross-entropy with the labels.
/// </summary>
internal sealed record DistillMethod(bool Kd, IReadOnlyList<string> Features)
{
    public static readonly string[] FeatureNames = ["at", "fitnet", "sp", "rkd"];

    public static DistillMethod Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        string[] parts = text.ToLowerInvariant().Split('+', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string? unknown = parts.FirstOrDefault(p => p != "kd" && !FeatureNames.Contains(p));
        if (parts.Length == 0 || unknown is not null || parts.Distinct().Count() != parts.Length)
        {
            throw new ArgumentException(
                $"Unknown method '{text}'{(unknown is null ? "" : $" ('{unknown}')")}. Use kd, at, fitnet, sp, rkd, or a combination without repeats such as at+kd or fitnet+kd.", "--method");
        }
        return new DistillMethod(parts.Contains("kd"), FeatureNames.Where(parts.Contains).ToArray());
    }

    /// <summary>
    /// The default layer pairs of a feature method for the built-in presets: for <c>cnn</c> presets, attention transfer
    /// matches block i of the student with block i of the teacher (same spatial size), FitNets the student's last block
    /// with the teacher's block of the same index, SP the last blocks, RKD the flattened features; for <c>mlp</c> presets,
    /// the last hidden activations (<c>relu</c><i>k</i>).
    /// </summary>
    public static IReadOnlyList<LayerPair> DefaultPairs(string feature, IReadOnlyList<string> studentLayers, IReadOnlyList<string> teacherLayers)
    {
        string[] sb = Blocks(studentLayers, "block"), tb = Blocks(teacherLayers, "block");
        string[] sr = Blocks(studentLayers, "relu"), tr = Blocks(teacherLayers, "relu");
        if (sb.Length > 0 && tb.Length > 0)
        {
            return feature switch
            {
                "at" => Enumerable.Range(0, Math.Min(sb.Length, tb.Length)).Select(i => new LayerPair(sb[i], tb[i])).ToArray(),
                "fitnet" => [new LayerPair(sb[^1], tb[Math.Min(sb.Length, tb.Length) - 1])],
                "sp" => [new LayerPair(sb[^1], tb[^1])],
                "rkd" when studentLayers.Contains("flatten") && teacherLayers.Contains("flatten") => [new LayerPair("flatten", "flatten")],
                _ => [new LayerPair(sb[^1], tb[^1])],
            };
        }
        if (feature != "at" && sr.Length > 0 && tr.Length > 0)
        {
            return [new LayerPair(sr[^1], tr[^1])];
        }
        throw new ArgumentException(
            $"No default layer pairs for '{feature}' between student layers [{string.Join(", ", studentLayers)}] and teacher layers [{string.Join(", ", teacherLayers)}]" +
            (feature == "at" ? " (attention transfer needs convolutional blocks)" : "") + "; give them with --pairs student:teacher,…", "--pairs");
    }

    // block1, block2, … (or relu1, relu2, …) in numeric order.
    private static string[] Blocks(IReadOnlyList<string> layers, string prefix) =>
        layers.Where(l => l.StartsWith(prefix, StringComparison.Ordinal) && l.Length > prefix.Length && l[prefix.Length..].All(char.IsAsciiDigit))
            .OrderBy(l => int.Parse(l[prefix.Length..], CultureInfo.InvariantCulture)).ToArray();

    public override string ToString() => string.Join('+', Features.Concat(Kd ? ["kd"] : Array.Empty<string>()));
}
