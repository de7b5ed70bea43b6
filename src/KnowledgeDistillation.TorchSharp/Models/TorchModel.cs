using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.TorchSharp.Features;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Models;

/// <summary>
/// A TorchSharp classifier over fixed-shape inputs (<see cref="Batch"/>): trained by <see cref="Training.TorchDistiller"/>
/// as a student (<see cref="ITorchModel{TBatch}"/>), and a teacher like any other (<see cref="ITeacher"/>: eval mode, no
/// gradients). Its module lives on <see cref="Device"/>.
/// </summary>
/// <remarks>Inference calls are serialised by a lock: one TorchSharp module is not safe for concurrent forward passes that switch modes.</remarks>
public sealed class TorchModel : ITorchModel<Batch>
{
    private readonly Lock _gate = new();
    private readonly int[] _inputShape;
    private bool _disposed;

    /// <summary>Wraps <paramref name="module"/> and moves it to <paramref name="device"/>.</summary>
    /// <param name="module">The classifier. Named intermediates are captured explicitly from a <see cref="SequentialClassifier"/> (or any <see cref="IFeatureCapturingModule"/>), and through checked forward hooks from other modules (see <see cref="FeatureCapture"/>).</param>
    /// <param name="inputShape">The shape of one sample (for example <c>[1, 28, 28]</c>).</param>
    /// <param name="classCount">The number of classes.</param>
    /// <param name="device">Where the module runs; null for the CPU.</param>
    /// <param name="name">A name for messages and reports; defaults to the module's name.</param>
    public TorchModel(nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape, int classCount, Device? device = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        TorchSharpRuntime.EnsureInitialized();
        Module = module;
        Device = device ?? CPU;
        Module.to(Device);
        _inputShape = inputShape.ToArray();
        long parameters = module.parameters().Sum(p => p.numel());
        IReadOnlyList<string> names = FeatureCapture.AvailableNames(module);
        Metadata = new ModelMetadata(name ?? module.GetName(), classCount, parameters, names);
    }

    /// <summary>Builds a preset architecture (see <see cref="ModelPresets"/>) with weights seeded by <paramref name="seed"/>.</summary>
    public static TorchModel FromPreset(string spec, IReadOnlyList<int> inputShape, int classCount, int seed, Device? device = null)
    {
        TorchSharpRuntime.EnsureInitialized();
        torch.manual_seed(seed);
        return new TorchModel(ModelPresets.Create(spec, inputShape, classCount), inputShape, classCount, device, spec);
    }

    /// <summary>The wrapped module.</summary>
    public nn.Module<Tensor, Tensor> Module { get; }

    /// <summary>The device the module is on.</summary>
    public Device Device { get; }

    /// <summary>The shape of one input sample.</summary>
    public IReadOnlyList<int> InputShape => _inputShape;

    /// <inheritdoc />
    public ModelMetadata Metadata { get; }

    /// <inheritdoc />
    public void EnsureCompatible(IBatchSource<Batch> data, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.ClassCount != Metadata.ClassCount)
        {
            throw new ArgumentException($"The data has {data.ClassCount} classes but model '{Metadata.Name}' has {Metadata.ClassCount}.", parameterName);
        }
        if (!data.SampleShape.SequenceEqual(_inputShape))
        {
            throw new ArgumentException(
                $"The data's samples have shape [{string.Join(", ", data.SampleShape)}] but model '{Metadata.Name}' expects [{string.Join(", ", _inputShape)}].", parameterName);
        }
    }

    /// <inheritdoc />
    public Tensor ToInput(Batch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return ToInputTensor(batch.Inputs);
    }

    /// <inheritdoc />
    public Tensor ForwardRows(Tensor input, IReadOnlyCollection<string>? capture = null, IDictionary<string, Tensor>? captured = null) =>
        Forward(input, capture, captured);

    /// <inheritdoc />
    public RowLabels LabelsOf(Batch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return new RowLabels(batch.Labels, null);
    }

    /// <inheritdoc />
    public void EnsureCapturable(IEnumerable<string> names, string role) => FeatureCapture.Validate(Module, names, role);

    /// <summary>
    /// Runs the module on a tensor already on <see cref="Device"/>, in the current mode and gradient state, capturing the named
    /// intermediates. The returned tensors belong to the caller's dispose scope.
    /// </summary>
    public Tensor Forward(Tensor input, IReadOnlyCollection<string>? intermediates = null, IDictionary<string, Tensor>? captured = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (intermediates is { Count: > 0 })
        {
            // Explicit capture for SequentialClassifier / IFeatureCapturingModule; checked hooks for any other module.
            return FeatureCapture.Forward(Module, input, intermediates, captured ?? throw new ArgumentNullException(nameof(captured)));
        }
        return Module.call(input);
    }

    /// <summary>Converts a CPU batch to a tensor of shape <c>[rows, …InputShape]</c> on <see cref="Device"/>, checking the shape.</summary>
    /// <exception cref="ArgumentException">The batch's sample shape differs from <see cref="InputShape"/>.</exception>
    public Tensor ToInputTensor(Float32Tensor inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        long perSample = 1;
        foreach (int d in _inputShape)
        {
            perSample *= d;
        }
        if (inputs.Shape.Count < 1 || inputs.Rows * perSample != inputs.Data.Length)
        {
            throw new ArgumentException(
                $"Model '{Metadata.Name}' expects inputs of shape [rows, {string.Join(", ", _inputShape)}], but got {inputs.ShapeText}.", nameof(inputs));
        }
        long[] shape = [inputs.Rows, .. _inputShape.Select(d => (long)d)];
        // Copied straight into the tensor's storage: no managed array per batch.
        Tensor cpu = torch.empty(shape, ScalarType.Float32);
        inputs.Data.Span.CopyTo(TensorSpans.Of<float>(cpu));
        return Device.type == DeviceType.CPU ? cpu : cpu.to(Device);
    }

    /// <inheritdoc />
    public ValueTask<ModelOutput> InferAsync(Float32Tensor inputs, IReadOnlyCollection<string>? intermediates = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Predict(inputs, intermediates));
    }

    /// <summary>Runs the model in evaluation mode without gradients and copies the outputs to CPU memory.</summary>
    public ModelOutput Predict(Float32Tensor inputs, IReadOnlyCollection<string>? intermediates = null)
    {
        lock (_gate)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            bool wasTraining = Module.training;
            Module.eval();
            try
            {
                Tensor x = ToInputTensor(inputs);
                var captured = new Dictionary<string, Tensor>();
                Tensor logits = Forward(x, intermediates, captured);
                var features = captured.ToDictionary(kv => kv.Key, kv => ToCpu(kv.Value));
                return new ModelOutput(ToCpu(logits), features);
            }
            finally
            {
                Module.train(wasTraining);
            }
        }
    }

    /// <summary>Copies a tensor to a <see cref="Float32Tensor"/> in CPU memory.</summary>
    public static Float32Tensor ToCpu(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using Tensor cpu = tensor.detach().to(CPU).to_type(ScalarType.Float32).contiguous();
        return new Float32Tensor(cpu.data<float>().ToArray(), cpu.shape.Select(d => (int)d).ToArray());
    }

    /// <inheritdoc />
    public void SaveWeights(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var writer = new BinaryWriter(destination, System.Text.Encoding.UTF8, leaveOpen: true);
        Module.save(writer);
    }

    /// <inheritdoc />
    /// <remarks>On failure the previous weights are restored, so a model is never left half-loaded.</remarks>
    public void LoadWeights(Stream source)
    {
        ArgumentNullException.ThrowIfNull(source);
        using var backup = new MemoryStream();
        SaveWeights(backup);
        try
        {
            using var reader = new BinaryReader(source, System.Text.Encoding.UTF8, leaveOpen: true);
            Module.load(reader, strict: true);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            backup.Position = 0;
            using (var restore = new BinaryReader(backup))
            {
                Module.load(restore, strict: true);
            }
            throw new InvalidDataException(
                $"The weights do not fit model '{Metadata.Name}' ({ex.Message}); the model keeps its previous weights.", ex);
        }
        Module.to(Device);
    }

    /// <summary>The size in bytes of the saved weights.</summary>
    public long WeightsSizeInBytes()
    {
        using var counter = new MemoryStream();
        SaveWeights(counter);
        return counter.Length;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }
        return serviceType.IsInstanceOfType(this) ? this : serviceType.IsInstanceOfType(Module) ? Module : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Module.Dispose();
        }
    }
}
