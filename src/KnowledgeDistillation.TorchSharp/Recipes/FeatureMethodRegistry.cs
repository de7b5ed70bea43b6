using System.Globalization;
using KnowledgeDistillation.TorchSharp.Features;

namespace KnowledgeDistillation.TorchSharp.Recipes;

/// <summary>
/// Feature and attention distillation methods by name (<c>at</c>, <c>fitnet</c>, <c>sp</c>, <c>rkd</c>), each with its
/// default weight and its default layer pairs between a student's and a teacher's capturable layers. Recipes combine them
/// with a logit loss (<c>at+kd</c>, <c>fitnet+kd</c>). <see cref="Register"/> adds your own.
/// </summary>
public sealed class FeatureMethodRegistry
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>A registry holding the library's methods (a fresh copy).</summary>
    public static FeatureMethodRegistry CreateDefault()
    {
        var registry = new FeatureMethodRegistry();
        registry.Register("at", "attention transfer (Zagoruyko & Komodakis 2017) between convolutional blocks", 1000,
            (pairs, o) => new AttentionTransferLoss(pairs, o.AttentionMode, o.Weight));
        registry.Register("fitnet", "FitNets hints (Romero et al. 2015): a learned adapter regresses the teacher's features", 1,
            (pairs, o) => new FitNetHintLoss(pairs, o.Weight ?? 1));
        registry.Register("sp", "similarity-preserving KD (Tung & Mori 2019): the batch's pairwise similarities", 3000,
            (pairs, o) => new SimilarityPreservingLoss(pairs, o.Weight ?? 3000));
        registry.Register("rkd", "relational KD (Park et al. 2019): distances and angles between the batch's embeddings", 1,
            (pairs, o) => new RelationalKdLoss(pairs, weight: o.Weight ?? 1));
        return registry;
    }

    /// <summary>The library's methods.</summary>
    public static FeatureMethodRegistry Default { get; } = CreateDefault();

    /// <summary>The registered names, in registration order (the order a method's parts are written in).</summary>
    public IReadOnlyList<string> Names => [.. _entries.Keys];

    /// <summary>A one-line description of each method.</summary>
    public IReadOnlyDictionary<string, string> Descriptions => _entries.ToDictionary(kv => kv.Key, kv => kv.Value.Description);

    /// <summary>Adds (or replaces) a method.</summary>
    /// <param name="name">The name recipes use (lower case, not <c>kd</c>).</param>
    /// <param name="description">One line for help texts.</param>
    /// <param name="defaultWeight">The weight when the recipe gives none (for messages and reports).</param>
    /// <param name="factory">Builds the loss over the given pairs.</param>
    public void Register(string name, string description, float defaultWeight, Func<IReadOnlyList<LayerPair>, FeatureMethodOptions, FeatureDistillationLoss> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        if (name == "kd" || name.Contains('+', StringComparison.Ordinal) || name != name.ToLowerInvariant())
        {
            throw new ArgumentException($"Feature method name '{name}' must be lower case, without '+', and not 'kd'.", nameof(name));
        }
        _entries[name] = new Entry(description ?? "", defaultWeight, factory);
    }

    /// <summary>True when <paramref name="name"/> is registered.</summary>
    public bool Contains(string name) => _entries.ContainsKey(name);

    /// <summary>The default weight of a method.</summary>
    public float DefaultWeight(string name) => Get(name).DefaultWeight;

    /// <summary>Builds the loss of method <paramref name="name"/> over <paramref name="pairs"/>.</summary>
    /// <exception cref="ArgumentException">The name is unknown.</exception>
    public FeatureDistillationLoss Create(string name, IReadOnlyList<LayerPair> pairs, FeatureMethodOptions options)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        ArgumentNullException.ThrowIfNull(options);
        return Get(name).Factory(pairs, options);
    }

    /// <summary>
    /// The default layer pairs of a method between the layers of two models: with convolutional blocks (<c>block1</c>,
    /// <c>block2</c>, …), attention transfer matches block i with block i (same spatial size), FitNets the student's last block
    /// with the teacher's block of the same index, SP the last blocks, RKD the flattened features; with only hidden
    /// activations (<c>relu1</c>, …), the last ones.
    /// </summary>
    /// <exception cref="ArgumentException">No default fits these layers; the message lists them and says how to give pairs.</exception>
    public static IReadOnlyList<LayerPair> DefaultPairs(string method, IReadOnlyList<string> studentLayers, IReadOnlyList<string> teacherLayers)
    {
        ArgumentNullException.ThrowIfNull(studentLayers);
        ArgumentNullException.ThrowIfNull(teacherLayers);
        string[] sb = Numbered(studentLayers, "block"), tb = Numbered(teacherLayers, "block");
        string[] sr = Numbered(studentLayers, "relu"), tr = Numbered(teacherLayers, "relu");
        if (sb.Length > 0 && tb.Length > 0)
        {
            return method switch
            {
                "at" => Enumerable.Range(0, Math.Min(sb.Length, tb.Length)).Select(i => new LayerPair(sb[i], tb[i])).ToArray(),
                "fitnet" => [new LayerPair(sb[^1], tb[Math.Min(sb.Length, tb.Length) - 1])],
                "sp" => [new LayerPair(sb[^1], tb[^1])],
                "rkd" when studentLayers.Contains("flatten") && teacherLayers.Contains("flatten") => [new LayerPair("flatten", "flatten")],
                _ => [new LayerPair(sb[^1], tb[^1])],
            };
        }
        if (method != "at" && sr.Length > 0 && tr.Length > 0)
        {
            return [new LayerPair(sr[^1], tr[^1])];
        }
        throw new ArgumentException(
            $"No default layer pairs for '{method}' between student layers [{string.Join(", ", studentLayers)}] and teacher layers [{string.Join(", ", teacherLayers)}]" +
            (method == "at" ? " (attention transfer needs convolutional blocks)" : "") + "; give them as pairs student:teacher,… (kd distill --pairs).", "pairs");
    }

    private Entry Get(string name) =>
        _entries.TryGetValue(name, out Entry? entry)
            ? entry
            : throw new ArgumentException($"Unknown feature method '{name}'. Known: {string.Join(", ", _entries.Keys)}.", nameof(name));

    // block1, block2, … (or relu1, relu2, …) in numeric order.
    private static string[] Numbered(IReadOnlyList<string> layers, string prefix) =>
        layers.Where(l => l.StartsWith(prefix, StringComparison.Ordinal) && l.Length > prefix.Length && l[prefix.Length..].All(char.IsAsciiDigit))
            .OrderBy(l => int.Parse(l[prefix.Length..], CultureInfo.InvariantCulture)).ToArray();

    private sealed record Entry(string Description, float DefaultWeight, Func<IReadOnlyList<LayerPair>, FeatureMethodOptions, FeatureDistillationLoss> Factory);
}
