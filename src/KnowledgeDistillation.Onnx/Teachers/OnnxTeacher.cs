using System.Runtime.InteropServices;
using KnowledgeDistillation.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelMetadata = KnowledgeDistillation.Abstractions.ModelMetadata;

namespace KnowledgeDistillation.Onnx.Teachers;

/// <summary>
/// A teacher backed by an ONNX model (exported from PyTorch, TensorFlow, scikit-learn, or by this library's exporter)
/// run by one ONNX Runtime <see cref="InferenceSession"/>.
/// </summary>
/// <remarks>
/// The model must have one float tensor input <c>[batch, …]</c> (or name one through <see cref="OnnxTeacherOptions.InputName"/>)
/// and a float logits output <c>[batch, classes]</c>; its other float outputs are available as intermediates by name.
/// <see cref="InferAsync"/> is thread-safe: concurrent calls share the one session (ONNX Runtime allows concurrent
/// <c>Run</c> calls). Every mismatch is checked when the teacher is opened, and the messages list what the model has.
/// </remarks>
public sealed class OnnxTeacher : ITeacher
{
    private readonly InferenceSession _session;
    private readonly string _source;
    private readonly long[] _inputDimensions;
    private readonly string[] _intermediateNames;
    private volatile bool _disposed;

    private OnnxTeacher(InferenceSession session, string source, OnnxTeacherOptions options)
    {
        _session = session;
        _source = source;
        try
        {
            (InputName, _inputDimensions) = PickInput(session, source, options);
            LogitsName = PickLogits(session, source, options, out int classes);
            _intermediateNames = session.OutputMetadata
                .Where(o => o.Key != LogitsName && o.Value.IsTensor && o.Value.ElementDataType == TensorElementType.Float)
                .Select(o => o.Key)
                .ToArray();
            CustomMetadata = new Dictionary<string, string>(session.ModelMetadata.CustomMetadataMap);
            Metadata = new ModelMetadata(options.Name ?? Path.GetFileName(source), classes, ReadParameterCount(), _intermediateNames);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Opens an ONNX model file.</summary>
    /// <param name="path">The <c>.onnx</c> file.</param>
    /// <param name="options">Session options and expectations; null for the defaults.</param>
    /// <exception cref="ArgumentException">The file does not exist, or the model's inputs/outputs do not fit (the message lists them).</exception>
    /// <exception cref="InvalidDataException">The file is empty, truncated or not an ONNX model, or ONNX Runtime rejects it.</exception>
    public static OnnxTeacher Load(string path, OnnxTeacherOptions? options = null)
    {
        byte[] bytes = OnnxModelFile.Read(path);
        // From the path, so that models with external data files (next to the .onnx) load.
        return Create(bytes, path, options ?? new OnnxTeacherOptions(), fromPath: true);
    }

    /// <summary>Opens an ONNX model held in memory.</summary>
    /// <param name="model">The serialised ModelProto.</param>
    /// <param name="name">A name for messages (for example where the bytes came from).</param>
    /// <param name="options">Session options and expectations; null for the defaults.</param>
    /// <exception cref="ArgumentException">The model's inputs/outputs do not fit (the message lists them).</exception>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model, or ONNX Runtime rejects them.</exception>
    public static OnnxTeacher FromBytes(byte[] model, string name, OnnxTeacherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        OnnxModelFile.Validate(model, name);
        return Create(model, name, options ?? new OnnxTeacherOptions(), fromPath: false);
    }

    private static OnnxTeacher Create(byte[] bytes, string source, OnnxTeacherOptions options, bool fromPath)
    {
        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = options.OptimizationLevel,
            IntraOpNumThreads = Math.Max(0, options.IntraOpThreads),
            InterOpNumThreads = Math.Max(0, options.InterOpThreads),
        };
        InferenceSession session;
        try
        {
            session = fromPath ? new InferenceSession(source, sessionOptions) : new InferenceSession(bytes, sessionOptions);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidDataException($"ONNX Runtime cannot load '{source}': {ex.Message}", ex);
        }
        return new OnnxTeacher(session, source, options) { ModelBytes = bytes.LongLength };
    }

    /// <inheritdoc />
    public ModelMetadata Metadata { get; }

    /// <summary>The name of the input fed with the batch.</summary>
    public string InputName { get; }

    /// <summary>The model's input dimensions; -1 marks a dynamic one (normally the batch).</summary>
    public IReadOnlyList<long> InputDimensions => _inputDimensions;

    /// <summary>The name of the logits output.</summary>
    public string LogitsName { get; }

    /// <summary>The model's metadata properties (for example <c>kd.temperature</c> and <c>kd.accuracy</c> on exported students).</summary>
    public IReadOnlyDictionary<string, string> CustomMetadata { get; }

    /// <summary>The size of the serialised model in bytes.</summary>
    public long ModelBytes { get; private init; }

    /// <summary>The underlying session (also reachable through <see cref="GetService"/>).</summary>
    public InferenceSession Session => _session;

    /// <inheritdoc />
    /// <exception cref="OperationCanceledException">The token was cancelled (a running inference is terminated).</exception>
    public ValueTask<ModelOutput> InferAsync(Float32Tensor inputs, IReadOnlyCollection<string>? intermediates = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Infer(inputs, intermediates, cancellationToken));
    }

    /// <summary>Runs the model synchronously; see <see cref="InferAsync"/>.</summary>
    /// <exception cref="ArgumentException">The inputs do not fit the model: a declared dimension differs, or a layer of a model with unspecified input dimensions cannot take them (the message names both shapes).</exception>
    public ModelOutput Infer(Float32Tensor inputs, IReadOnlyCollection<string>? intermediates = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ObjectDisposedException.ThrowIf(_disposed, this);
        long[] shape = ResolveShape(inputs);
        var outputNames = new List<string> { LogitsName };
        if (intermediates is not null)
        {
            foreach (string name in intermediates)
            {
                if (!_intermediateNames.Contains(name))
                {
                    throw new ArgumentException(
                        $"ONNX model '{_source}' has no intermediate output '{name}'. Available: {(_intermediateNames.Length == 0 ? "none" : string.Join(", ", _intermediateNames))}.",
                        nameof(intermediates));
                }
                if (!outputNames.Contains(name))
                {
                    outputNames.Add(name);
                }
            }
        }
        float[] buffer = MemoryMarshal.TryGetArray(inputs.Data, out ArraySegment<float> segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : inputs.Data.ToArray();
        using var runOptions = new RunOptions();
        using CancellationTokenRegistration registration = cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        using OrtValue input = OrtValue.CreateTensorValueFromMemory(buffer, shape);
        try
        {
            using IDisposableReadOnlyCollection<OrtValue> results = _session.Run(runOptions, [InputName], [input], outputNames);
            Float32Tensor logits = Copy(results[0]);
            if (logits.Shape.Count != 2 || logits.Rows != inputs.Rows)
            {
                throw new InvalidDataException(
                    $"ONNX model '{_source}' returned logits of shape {logits.ShapeText} for {inputs.Rows} rows; expected [{inputs.Rows}, {Metadata.ClassCount}].");
            }
            var features = new Dictionary<string, Float32Tensor>();
            for (int i = 1; i < outputNames.Count; i++)
            {
                features[outputNames[i]] = Copy(results[i]);
            }
            return new ModelOutput(logits, features);
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("ONNX inference was cancelled.", cancellationToken);
        }
        catch (OnnxRuntimeException ex)
        {
            // A model whose input dimensions are unspecified accepts any shape until a layer needs another one.
            throw new ArgumentException(
                $"ONNX model '{_source}' could not run on input '{InputName}' of shape {inputs.ShapeText} (the model declares {DimsText(_inputDimensions)}; ? = unspecified, so the size is only checked by the layers): {ex.Message.Trim()} Give samples of the size the model was exported for.",
                nameof(inputs), ex);
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }
        return serviceType.IsInstanceOfType(this) ? this : serviceType.IsInstanceOfType(_session) ? _session : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _session.Dispose();
        }
    }

    private static Float32Tensor Copy(OrtValue value)
    {
        OrtTensorTypeAndShapeInfo info = value.GetTensorTypeAndShape();
        float[] data = value.GetTensorDataAsSpan<float>().ToArray();
        return new Float32Tensor(data, info.Shape.Select(d => checked((int)d)).ToArray());
    }

    private long[] ResolveShape(Float32Tensor inputs)
    {
        int rows = inputs.Rows;
        long fixedBatch = _inputDimensions[0];
        if (fixedBatch > 0 && fixedBatch != rows)
        {
            throw new ArgumentException(
                $"ONNX model '{_source}' has a fixed batch size of {fixedBatch} (input '{InputName}' {DimsText(_inputDimensions)}), but the batch has {rows} rows. Export the model with a dynamic batch dimension.",
                nameof(inputs));
        }
        long[] shape = new long[_inputDimensions.Length];
        shape[0] = rows;
        if (inputs.Shape.Count == _inputDimensions.Length)
        {
            for (int i = 1; i < shape.Length; i++)
            {
                long want = _inputDimensions[i];
                if (want > 0 && want != inputs.Shape[i])
                {
                    throw ShapeMismatch(inputs);
                }
                shape[i] = inputs.Shape[i];
            }
            return shape;
        }
        // A different rank with the same number of elements per sample (for example [rows, 784] for [N, 1, 28, 28]) is reshaped.
        long perSample = 1;
        for (int i = 1; i < shape.Length; i++)
        {
            if (_inputDimensions[i] <= 0)
            {
                throw ShapeMismatch(inputs);
            }
            shape[i] = _inputDimensions[i];
            perSample *= _inputDimensions[i];
        }
        if (perSample * rows != inputs.Data.Length)
        {
            throw ShapeMismatch(inputs);
        }
        return shape;
    }

    private ArgumentException ShapeMismatch(Float32Tensor inputs) =>
        new($"ONNX model '{_source}' expects input '{InputName}' of shape {DimsText(_inputDimensions)} (-1 = dynamic), but the batch is {inputs.ShapeText}.", nameof(inputs));

    private static (string Name, long[] Dimensions) PickInput(InferenceSession session, string source, OnnxTeacherOptions options)
    {
        IReadOnlyDictionary<string, NodeMetadata> inputs = session.InputMetadata;
        string name;
        if (options.InputName is not null)
        {
            if (!inputs.ContainsKey(options.InputName))
            {
                throw new ArgumentException($"ONNX model '{source}' has no input '{options.InputName}'. Inputs: {Describe(inputs)}.", nameof(options));
            }
            name = options.InputName;
        }
        else if (inputs.Count == 1)
        {
            name = inputs.Keys.First();
        }
        else
        {
            throw new ArgumentException(
                $"ONNX model '{source}' has {inputs.Count} inputs; a teacher feeds one. Name it with {nameof(OnnxTeacherOptions.InputName)}. Inputs: {Describe(inputs)}.", nameof(options));
        }
        NodeMetadata meta = inputs[name];
        if (!meta.IsTensor || meta.ElementDataType != TensorElementType.Float)
        {
            throw new ArgumentException($"ONNX model '{source}' input '{name}' is {TypeText(meta)}; a teacher needs a float tensor. Inputs: {Describe(inputs)}.", nameof(options));
        }
        long[] dims = meta.Dimensions.Select(d => (long)d).ToArray();
        if (dims.Length < 2)
        {
            throw new ArgumentException($"ONNX model '{source}' input '{name}' has shape {DimsText(dims)}; a teacher needs [batch, …].", nameof(options));
        }
        if (options.ExpectedInputShape is { } expected)
        {
            long expectedCount = expected.Aggregate(1L, (a, d) => a * d);
            long[] sample = dims[1..];
            bool sameShape = sample.Length == expected.Count && sample.Zip(expected).All(p => p.First <= 0 || p.First == p.Second);
            bool sameCount = sample.All(d => d > 0) && sample.Aggregate(1L, (a, d) => a * d) == expectedCount;
            if (!sameShape && !sameCount)
            {
                throw new ArgumentException(
                    $"ONNX model '{source}' input '{name}' has shape {DimsText(dims)}, but the student's samples are [{string.Join(", ", expected)}]. Inputs: {Describe(inputs)}.",
                    nameof(options));
            }
        }
        return (name, dims);
    }

    private static string PickLogits(InferenceSession session, string source, OnnxTeacherOptions options, out int classes)
    {
        IReadOnlyDictionary<string, NodeMetadata> outputs = session.OutputMetadata;
        string name;
        if (options.LogitsOutputName is not null)
        {
            if (!outputs.ContainsKey(options.LogitsOutputName))
            {
                throw new ArgumentException($"ONNX model '{source}' has no output '{options.LogitsOutputName}'. Outputs: {Describe(outputs)}.", nameof(options));
            }
            name = options.LogitsOutputName;
        }
        else
        {
            name = outputs.ContainsKey("logits") ? "logits" : outputs.Keys.First();
        }
        NodeMetadata meta = outputs[name];
        if (!meta.IsTensor || meta.ElementDataType != TensorElementType.Float)
        {
            throw new ArgumentException($"ONNX model '{source}' output '{name}' is {TypeText(meta)}; logits must be a float tensor [batch, classes]. Outputs: {Describe(outputs)}.", nameof(options));
        }
        int[] dims = meta.Dimensions;
        if (dims.Length != 2 || dims[1] <= 0)
        {
            throw new ArgumentException(
                $"ONNX model '{source}' output '{name}' has shape {DimsText(dims.Select(d => (long)d).ToArray())}; logits must be [batch, classes] with a fixed class count. Outputs: {Describe(outputs)}.",
                nameof(options));
        }
        classes = dims[1];
        if (options.ExpectedClassCount is { } expectedClasses && expectedClasses != classes)
        {
            throw new ArgumentException($"ONNX model '{source}' output '{name}' has {classes} classes, but the student predicts {expectedClasses}.", nameof(options));
        }
        return name;
    }

    private long? ReadParameterCount()
    {
        if (CustomMetadata.TryGetValue("kd.parameters", out string? text) && long.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out long count))
        {
            return count;
        }
        return null;
    }

    private static string Describe(IReadOnlyDictionary<string, NodeMetadata> values) =>
        string.Join(", ", values.Select(v => $"'{v.Key}' {TypeText(v.Value)}"));

    private static string TypeText(NodeMetadata meta) =>
        meta.IsTensor ? $"{meta.ElementDataType} {DimsText(meta.Dimensions.Select(d => (long)d).ToArray())}" : meta.OnnxValueType.ToString();

    private static string DimsText(long[] dims) => $"[{string.Join(", ", dims.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]";
}
