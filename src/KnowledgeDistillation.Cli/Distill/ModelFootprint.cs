using KnowledgeDistillation.TorchSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.Cli.Distill;

/// <summary>
/// The size of a preset model without training it: its parameter count (the model is built on libtorch's meta device,
/// which allocates nothing, so even an architecture far too large for the machine is measured safely) and the values its
/// layers output per sample (one real forward pass of a single sample, run only once the parameters are known to fit).
/// </summary>
/// <param name="Parameters">Trainable and other parameters.</param>
/// <param name="ActivationsPerSample">The summed output sizes of every layer for one sample (kept for the backward pass while training).</param>
/// <param name="LargestActivationPerSample">The largest single layer output for one sample (what inference without gradients holds at once).</param>
internal sealed record ModelFootprint(long Parameters, long ActivationsPerSample, long LargestActivationPerSample)
{
    /// <summary>The parameter count of <paramref name="spec"/>, built on the meta device (no memory is allocated).</summary>
    public static long ParameterCount(string spec, IReadOnlyList<int> inputShape, int classes)
    {
        using SequentialClassifier model = BuildOnMeta(spec, inputShape, classes);
        return model.parameters().Sum(p => p.numel());
    }

    /// <summary>Builds <paramref name="spec"/> on the meta device: layer names and shapes, no weights in memory.</summary>
    public static SequentialClassifier BuildOnMeta(string spec, IReadOnlyList<int> inputShape, int classes)
    {
        torch.set_default_device(new torch.Device(DeviceType.META));
        try
        {
            return (SequentialClassifier)ModelPresets.Create(spec, inputShape, classes);
        }
        finally
        {
            torch.set_default_device(torch.CPU);
        }
    }

    /// <summary>Parameters and per-sample activations of <paramref name="spec"/>; call only when its parameters fit in memory.</summary>
    public static ModelFootprint Measure(string spec, IReadOnlyList<int> inputShape, int classes)
    {
        using var scope = torch.NewDisposeScope();
        using SequentialClassifier model = (SequentialClassifier)ModelPresets.Create(spec, inputShape, classes);
        model.eval();
        using var noGrad = torch.no_grad();
        var outputs = new List<long>();
        Tensor x = torch.zeros([1, .. inputShape.Select(d => (long)d)]);
        Walk(model, ref x, outputs);
        return new ModelFootprint(model.parameters().Sum(p => p.numel()), outputs.Sum(), outputs.Count == 0 ? 0 : outputs.Max());
    }

    // The presets are sequences of sequences of layers: run the leaves in order, recording each output's size.
    private static void Walk(nn.Module module, ref Tensor x, List<long> outputs)
    {
        var children = module.named_children().ToList();
        if (children.Count == 0)
        {
            x = ((nn.Module<Tensor, Tensor>)module).call(x);
            outputs.Add(x.numel());
            return;
        }
        foreach ((_, nn.Module child) in children)
        {
            Walk(child, ref x, outputs);
        }
    }
}
