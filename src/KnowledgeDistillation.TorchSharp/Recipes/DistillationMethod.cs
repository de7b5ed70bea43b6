namespace KnowledgeDistillation.TorchSharp.Recipes;

/// <summary>
/// What a student learns from: <c>kd</c> (the logit loss), feature methods (<c>at</c>, <c>fitnet</c>, <c>sp</c>, <c>rkd</c>),
/// or combinations joined by <c>+</c> (<c>at+kd</c>). Without <c>kd</c>, the logit part is the cross-entropy with the labels.
/// </summary>
/// <param name="Kd">Whether the logit distillation loss is part of it.</param>
/// <param name="Features">The feature methods, in the registry's order.</param>
public sealed record DistillationMethod(bool Kd, IReadOnlyList<string> Features)
{
    /// <summary>Parses a method; the order of the parts does not matter.</summary>
    /// <exception cref="ArgumentException">An unknown or repeated part (the message lists the known ones).</exception>
    public static DistillationMethod Parse(string text, FeatureMethodRegistry? registry = null)
    {
        registry ??= FeatureMethodRegistry.Default;
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ArgumentException("The method is blank. Use kd, a feature method, or a combination such as at+kd.", "method");
        }
        string[] parts = text.ToLowerInvariant().Split('+', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string? unknown = parts.FirstOrDefault(p => p != "kd" && !registry.Contains(p));
        if (parts.Length == 0 || unknown is not null || parts.Distinct().Count() != parts.Length)
        {
            throw new ArgumentException(
                $"Unknown method '{text}'{(unknown is null ? "" : $" ('{unknown}')")}. Use kd, {string.Join(", ", registry.Names)}, or a combination without repeats such as at+kd or fitnet+kd.", "method");
        }
        return new DistillationMethod(parts.Contains("kd"), registry.Names.Where(parts.Contains).ToArray());
    }

    /// <inheritdoc />
    public override string ToString() => string.Join('+', Features.Concat(Kd ? ["kd"] : Array.Empty<string>()));
}
