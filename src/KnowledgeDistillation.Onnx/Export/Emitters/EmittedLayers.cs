using KnowledgeDistillation.Onnx.Export.Lowering;

namespace KnowledgeDistillation.Onnx.Export.Emitters;

/// <summary>What an emitter wrote: the logits tensor, the tensor of each model name, and extra graph outputs.</summary>
internal sealed class EmittedLayers
{
    private readonly Dictionary<string, (string Tensor, IReadOnlyList<int> Shape)> _byName = new(StringComparer.Ordinal);
    private readonly List<(string NameHint, string Tensor, IReadOnlyList<int> Shape)> _extraOutputs = [];

    /// <summary>The last layer's output tensor.</summary>
    public string Logits { get; set; } = "";

    /// <summary>Graph outputs besides logits and requested intermediates (calibration taps), in order.</summary>
    public IReadOnlyList<(string NameHint, string Tensor, IReadOnlyList<int> Shape)> ExtraOutputs => _extraOutputs;

    /// <summary>Records <paramref name="tensor"/> as the output of every name of <paramref name="layer"/>.</summary>
    public void Record(LoweredLayer layer, string tensor)
    {
        foreach (string name in layer.Names)
        {
            _byName[name] = (tensor, layer.OutputShape);
        }
    }

    /// <summary>The tensor and sample shape recorded for a model name.</summary>
    public (string Tensor, IReadOnlyList<int> Shape) OutputOf(string name) => _byName[name];

    /// <summary>Adds a graph output (named from <paramref name="nameHint"/>) after the intermediates.</summary>
    public void AddExtraOutput(string nameHint, string tensor, IReadOnlyList<int> shape) => _extraOutputs.Add((nameHint, tensor, shape));
}
