using KnowledgeDistillation.Onnx.Export;
using KnowledgeDistillation.Onnx.Export.Layers;
using KnowledgeDistillation.TorchSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace KnowledgeDistillation.Onnx.TorchSharp;

/// <summary>
/// Converts TorchSharp modules to the exporter's backend-neutral layers (<see cref="OnnxLayer"/>).
/// Built in: Linear, Conv2d, BatchNorm1d/2d, ReLU, GELU, Sigmoid, Tanh, SiLU, LeakyReLU, MaxPool2d, AvgPool2d,
/// AdaptiveAvgPool2d, Flatten, Dropout, Identity, Sequential and <see cref="SequentialClassifier"/>.
/// </summary>
/// <remarks>
/// To export another module type, write an <see cref="OnnxLayer"/> subclass for it (or reuse one) and call
/// <see cref="Register{TModule}"/> with a function that reads the module's parameters into it.
/// </remarks>
public static class TorchOnnxConverter
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<Type, Func<nn.Module, string, OnnxLayer>> Custom = [];

    /// <summary>Registers a converter for modules of type <typeparamref name="TModule"/> (exact type), replacing any earlier one.</summary>
    /// <param name="converter">Gets the module and its path name (for example <c>block1.conv</c>) and returns the layer.</param>
    public static void Register<TModule>(Func<TModule, string, OnnxLayer> converter)
        where TModule : nn.Module
    {
        ArgumentNullException.ThrowIfNull(converter);
        lock (Gate)
        {
            Custom[typeof(TModule)] = (m, name) => converter((TModule)m, name);
        }
    }

    /// <summary>Describes a <see cref="TorchModel"/> for export.</summary>
    /// <exception cref="NotSupportedException">A layer cannot be exported; the message names it and its type.</exception>
    public static StudentGraph ToStudentGraph(TorchModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return ToStudentGraph(model.Module, model.InputShape, model.Metadata.ClassCount, model.Metadata.Name);
    }

    /// <summary>Describes a module for export.</summary>
    /// <param name="module">The classifier.</param>
    /// <param name="inputShape">One sample's shape, without the batch dimension.</param>
    /// <param name="classCount">The number of classes.</param>
    /// <param name="name">The model's name.</param>
    /// <exception cref="NotSupportedException">A layer cannot be exported; the message names it and its type.</exception>
    public static StudentGraph ToStudentGraph(nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape, int classCount, string name)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(inputShape);
        IReadOnlyList<OnnxLayer> layers = module switch
        {
            SequentialClassifier classifier => Children(classifier.named_children().Single().module, prefix: ""),
            Sequential sequential => Children(sequential, prefix: ""),
            _ => [Convert(module, module.GetName())],
        };
        return new StudentGraph(name, inputShape.ToArray(), classCount, layers);
    }

    private static List<OnnxLayer> Children(nn.Module sequential, string prefix) =>
        sequential.named_children().Select(c => Convert(c.module, prefix + c.name)).ToList();

    /// <summary>Converts one module (recursively for Sequential).</summary>
    /// <exception cref="NotSupportedException">The module or one of its settings cannot be exported.</exception>
    public static OnnxLayer Convert(nn.Module module, string name)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Func<nn.Module, string, OnnxLayer>? custom;
        lock (Gate)
        {
            Custom.TryGetValue(module.GetType(), out custom);
        }
        if (custom is not null)
        {
            return custom(module, name);
        }
        return module switch
        {
            Sequential s => new SequenceLayer(name, Children(s, name + ".")),
            Linear l => new LinearLayer(name, Read(l.weight)!, Read(l.bias), (int)l.in_features, (int)l.out_features),
            Conv2d c => ConvertConv(c, name),
            BatchNorm bn => new BatchNormLayer(name, Read(bn.running_mean) ?? throw Unsupported(name, module, "it tracks no running statistics"),
                Read(bn.running_var)!, Read(bn.weight), Read(bn.bias), bn.eps),
            ReLU => new ActivationLayer(name, ActivationKind.Relu),
            GELU g => new ActivationLayer(name, g.approximate.ToString().Equals("tanh", StringComparison.OrdinalIgnoreCase) ? ActivationKind.GeluTanh : ActivationKind.Gelu),
            Sigmoid => new ActivationLayer(name, ActivationKind.Sigmoid),
            Tanh => new ActivationLayer(name, ActivationKind.Tanh),
            SiLU => new ActivationLayer(name, ActivationKind.Silu),
            LeakyReLU r => new ActivationLayer(name, ActivationKind.LeakyRelu, (float)r.negative_slope),
            MaxPool2d p => new Pool2dLayer(name, PoolKind.Max, Pair(p.kernel_size, 1), Pair(p.stride ?? p.kernel_size, 1), Pair(p.padding, 0), Pair(p.dilation, 1), p.ceil_mode, false),
            AvgPool2d p when p.divisor_override is null =>
                new Pool2dLayer(name, PoolKind.Average, Pair(p.kernel_size, 1), Pair(p.stride ?? p.kernel_size, 1), Pair(p.padding, 0), (1, 1), p.ceil_mode, p.count_include_pad),
            AvgPool2d => throw Unsupported(name, module, "divisor_override has no ONNX equivalent"),
            AdaptiveAvgPool2d a => new AdaptiveAvgPool2dLayer(name, (int)a.output_size[0], (int)a.output_size[a.output_size.Length > 1 ? 1 : 0]),
            Flatten f => new FlattenLayer(name, (int)f.start_dim, (int)f.end_dim),
            Dropout or Dropout1d or Dropout2d or AlphaDropout => new IdentityLayer(name, module.GetType().Name),
            Identity => new IdentityLayer(name, "Identity"),
            _ => throw Unsupported(name, module, null),
        };
    }

    private static Conv2dLayer ConvertConv(Conv2d c, string name)
    {
        if (c.padding_mode != PaddingModes.Zeros)
        {
            throw Unsupported(name, c, $"padding mode {c.padding_mode} (only zero padding is exported)");
        }
        (int H, int W) kernel = Pair(c.kernel_size, 1);
        (int H, int W) dilation = Pair(c.dilation, 1);
        (int H, int W) padding = Pair(c.padding, 0);
        if (c.padding_type == Padding.Same)
        {
            int th = dilation.H * (kernel.H - 1), tw = dilation.W * (kernel.W - 1);
            if (th % 2 != 0 || tw % 2 != 0)
            {
                throw Unsupported(name, c, "padding='same' with an even kernel pads asymmetrically");
            }
            padding = (th / 2, tw / 2);
        }
        else if (c.padding_type == Padding.Valid)
        {
            padding = (0, 0);
        }
        return new Conv2dLayer(name, Read(c.weight)!, Read(c.bias), (int)c.in_channels, (int)c.out_channels, kernel, Pair(c.stride, 1), padding, dilation, (int)c.groups);
    }

    private static (int H, int W) Pair(long[]? values, int fallback) => values switch
    {
        null or [] => (fallback, fallback),
        [long v] => ((int)v, (int)v),
        _ => ((int)values[0], (int)values[1]),
    };

    private static float[]? Read(Tensor? tensor)
    {
        if (tensor is null)
        {
            return null;
        }
        using var scope = torch.NewDisposeScope();
        return tensor.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
    }

    private static NotSupportedException Unsupported(string name, nn.Module module, string? why) =>
        new(why is null
            ? $"Layer '{name}' of type {module.GetType().FullName} cannot be exported to ONNX. Supported: Linear, Conv2d, BatchNorm1d/2d, ReLU, GELU, Sigmoid, Tanh, SiLU, LeakyReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Dropout, Identity, Sequential. Register a converter with {nameof(TorchOnnxConverter)}.{nameof(Register)} (see docs/onnx.md)."
            : $"Layer '{name}' of type {module.GetType().FullName} cannot be exported to ONNX: {why}.");
}
