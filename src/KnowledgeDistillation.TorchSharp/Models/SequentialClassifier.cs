using KnowledgeDistillation.TorchSharp.Features;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Models;

/// <summary>
/// A classifier made of named layers run in order. Intermediate outputs are captured by layer name explicitly
/// (not through forward hooks, which TorchSharp fires only for <c>call()</c>, not <c>forward()</c>), so capture
/// works however the model is invoked.
/// </summary>
public sealed class SequentialClassifier : nn.Module<Tensor, Tensor>, IFeatureCapturingModule
{
    private readonly Sequential _layers;
    private readonly (string Name, nn.Module<Tensor, Tensor> Module)[] _ordered;

    /// <summary>Creates the classifier from named layers.</summary>
    /// <exception cref="ArgumentException">No layers, or duplicate names.</exception>
    public SequentialClassifier(string name, IReadOnlyList<(string Name, nn.Module<Tensor, Tensor> Module)> layers)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
        {
            throw new ArgumentException("A classifier needs at least one layer.", nameof(layers));
        }
        string? duplicate = layers.GroupBy(l => l.Name).FirstOrDefault(g => g.Count() > 1)?.Key;
        if (duplicate is not null)
        {
            throw new ArgumentException($"Layer name '{duplicate}' is used twice.", nameof(layers));
        }
        _ordered = layers.ToArray();
        _layers = nn.Sequential(_ordered.Select(l => (l.Name, l.Module)).ToArray());
        RegisterComponents();
    }

    /// <summary>The layer names, in order (what can be captured).</summary>
    public IReadOnlyList<string> LayerNames => _ordered.Select(l => l.Name).ToArray();

    /// <inheritdoc />
    IReadOnlyList<string> IFeatureCapturingModule.CapturableNames => LayerNames;

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => Forward(input, null, null);

    /// <summary>Runs the layers, adding the output of each layer named in <paramref name="capture"/> to <paramref name="captured"/>.</summary>
    /// <exception cref="ArgumentException">A requested name is not a layer; the message lists the layers.</exception>
    public Tensor Forward(Tensor input, IReadOnlyCollection<string>? capture, IDictionary<string, Tensor>? captured)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (capture is { Count: > 0 })
        {
            ArgumentNullException.ThrowIfNull(captured);
            foreach (string name in capture)
            {
                if (!_ordered.Any(l => l.Name == name))
                {
                    throw new ArgumentException(
                        $"Model '{GetName()}' has no layer named '{name}'. Layers: {string.Join(", ", LayerNames)}.", nameof(capture));
                }
            }
        }
        Tensor x = input;
        foreach ((string name, nn.Module<Tensor, Tensor> module) in _ordered)
        {
            x = module.call(x);
            if (capture is not null && capture.Contains(name))
            {
                captured![name] = x;
            }
        }
        return x;
    }
}
