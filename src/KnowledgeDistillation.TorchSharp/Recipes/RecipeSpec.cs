using System.Globalization;

namespace KnowledgeDistillation.TorchSharp.Recipes;

/// <summary>
/// A named component with parameters, as recipes write them: <c>name</c> or <c>name:key=value,key=value</c> (for example
/// <c>dkd:tckd=1,nckd=8</c> or <c>jsd:beta=0.3</c>). Registries turn specs into losses and feature methods.
/// </summary>
/// <param name="Name">The registered name (lower case).</param>
/// <param name="Parameters">The parameters given, by lower-case key.</param>
public sealed record RecipeSpec(string Name, IReadOnlyDictionary<string, string> Parameters)
{
    /// <summary>Parses <c>name[:key=value,…]</c>.</summary>
    /// <exception cref="FormatException">The text is blank or a parameter is not <c>key=value</c>.</exception>
    public static RecipeSpec Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new FormatException("A recipe component needs a name (for example hinton, or dkd:tckd=1,nckd=8).");
        }
        string[] nameAndParameters = text.Trim().Split(':', 2);
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        if (nameAndParameters.Length == 2)
        {
            foreach (string item in nameAndParameters[1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string[] kv = item.Split('=', 2, StringSplitOptions.TrimEntries);
                if (kv.Length != 2 || kv[0].Length == 0 || kv[1].Length == 0)
                {
                    throw new FormatException($"'{item}' in '{text}' is not key=value (example: dkd:tckd=1,nckd=8).");
                }
                parameters[kv[0].ToLowerInvariant()] = kv[1];
            }
        }
        return new RecipeSpec(nameAndParameters[0].Trim().ToLowerInvariant(), parameters);
    }

    /// <summary>A number parameter, or <paramref name="defaultValue"/> when absent.</summary>
    /// <exception cref="FormatException">The value is not a number.</exception>
    public float Float(string key, float defaultValue) =>
        Parameters.TryGetValue(key, out string? text)
            ? float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) ? value
                : throw new FormatException($"Parameter {key}={text} of '{Name}' is not a number.")
            : defaultValue;

    /// <summary>An integer parameter, or <paramref name="defaultValue"/> when absent.</summary>
    /// <exception cref="FormatException">The value is not an integer.</exception>
    public int? Int(string key, int? defaultValue) =>
        Parameters.TryGetValue(key, out string? text)
            ? int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? value
                : throw new FormatException($"Parameter {key}={text} of '{Name}' is not an integer.")
            : defaultValue;

    /// <summary>A text parameter, or <paramref name="defaultValue"/> when absent.</summary>
    public string Text(string key, string defaultValue) => Parameters.TryGetValue(key, out string? text) ? text : defaultValue;

    /// <inheritdoc />
    public override string ToString() =>
        Parameters.Count == 0 ? Name : $"{Name}:{string.Join(",", Parameters.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"))}";
}
