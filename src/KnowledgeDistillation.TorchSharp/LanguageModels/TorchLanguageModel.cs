using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Metrics;
using KnowledgeDistillation.Text;
using KnowledgeDistillation.TorchSharp.Features;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.LanguageModels;

/// <summary>
/// A <see cref="CausalLanguageModel"/> as a model of the training core (<see cref="ITorchModel{TBatch}"/> over
/// <see cref="TokenBatch"/>): trained by <see cref="Training.TorchDistiller"/> like any student, run on the device as a
/// teacher, saved and loaded. Its logit rows are the token positions (<c>[batch × sequence, vocabulary]</c>), labelled
/// with the next tokens and masked where the batch's mask is false.
/// </summary>
/// <remarks>Inference calls are serialised by a lock (one module is not safe for concurrent passes that switch modes).</remarks>
public sealed class TorchLanguageModel : ITorchModel<TokenBatch>
{
    private readonly Lock _gate = new();
    private bool _disposed;

    /// <summary>Wraps <paramref name="model"/> and moves it to <paramref name="device"/>.</summary>
    /// <param name="model">The language model.</param>
    /// <param name="device">Where it runs; null for the CPU.</param>
    /// <param name="name">A name for messages and reports; defaults to the shape.</param>
    /// <param name="tokenizer">The tokenizer whose ids the model reads and predicts; null when unknown. Its name becomes <see cref="ModelMetadata.Vocabulary"/>, so a teacher with another tokenizer is refused for token-level KD without a mapping.</param>
    public TorchLanguageModel(CausalLanguageModel model, Device? device = null, string? name = null, ITextTokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        TorchSharpRuntime.EnsureInitialized();
        Model = model;
        Device = device ?? CPU;
        Model.to(Device);
        Tokenizer = tokenizer;
        if (tokenizer is not null && tokenizer.VocabularySize > model.Options.VocabularySize)
        {
            throw new ArgumentException($"Tokenizer '{tokenizer.Name}' produces {tokenizer.VocabularySize} ids but the model's vocabulary is {model.Options.VocabularySize}.", nameof(tokenizer));
        }
        Metadata = new ModelMetadata(name ?? model.Options.ToString(), model.Options.VocabularySize, model.ParameterCount, FeatureCapture.AvailableNames(model))
        {
            Vocabulary = tokenizer?.Name,
        };
    }

    /// <summary>Builds a model of the given shape with weights seeded by <paramref name="seed"/> (libtorch's generator is seeded first).</summary>
    public static TorchLanguageModel Create(CausalLanguageModelOptions options, int seed, Device? device = null, string? name = null, ITextTokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        TorchSharpRuntime.EnsureInitialized();
        torch.manual_seed(seed);
        return new TorchLanguageModel(new CausalLanguageModel(options, name ?? "causal_lm"), device, name, tokenizer);
    }

    /// <summary>The tokenizer whose ids the model reads and predicts, when known.</summary>
    public ITextTokenizer? Tokenizer { get; }

    /// <summary>The language model.</summary>
    public CausalLanguageModel Model { get; }

    /// <inheritdoc />
    public nn.Module<Tensor, Tensor> Module => Model;

    /// <inheritdoc />
    public Device Device { get; }

    /// <inheritdoc />
    public ModelMetadata Metadata { get; }

    /// <summary>The vocabulary size (classes of every logit row).</summary>
    public int VocabularySize => Model.Options.VocabularySize;

    /// <inheritdoc />
    public void EnsureCompatible(IBatchSource<TokenBatch> data, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.ClassCount > VocabularySize)
        {
            throw new ArgumentException(
                $"The token data uses a vocabulary of {data.ClassCount} ids but language model '{Metadata.Name}' has {VocabularySize}; build the model with VocabularySize ≥ {data.ClassCount}.", parameterName);
        }
        int length = data.SampleShape.Count == 1 ? data.SampleShape[0] : -1;
        if (length < 1 || length > Model.Options.ContextLength)
        {
            throw new ArgumentException(
                $"The token data has windows of shape [{string.Join(", ", data.SampleShape)}] but language model '{Metadata.Name}' reads at most {Model.Options.ContextLength} tokens; use a sequence length in [1, {Model.Options.ContextLength}].", parameterName);
        }
    }

    /// <inheritdoc />
    public Tensor ToInput(TokenBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        // Widened straight into the tensor's storage: no managed array per batch.
        Tensor cpu = torch.empty([batch.BatchSize, batch.SequenceLength], ScalarType.Int64);
        Span<long> ids = TensorSpans.Of<long>(cpu);
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = batch.Inputs[i];
        }
        return Device.type == DeviceType.CPU ? cpu : cpu.to(Device);
    }

    /// <inheritdoc />
    public Tensor ForwardRows(Tensor input, IReadOnlyCollection<string>? capture = null, IDictionary<string, Tensor>? captured = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Tensor logits = capture is { Count: > 0 }
            ? FeatureCapture.Forward(Model, input, capture, captured ?? throw new ArgumentNullException(nameof(captured)))
            : Model.call(input);
        return logits.reshape(-1, VocabularySize);
    }

    /// <inheritdoc />
    public RowLabels LabelsOf(TokenBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return new RowLabels(batch.Targets, batch.Mask);
    }

    /// <inheritdoc />
    public void EnsureCapturable(IEnumerable<string> names, string role) => FeatureCapture.Validate(Model, names, role);

    /// <inheritdoc />
    /// <remarks>
    /// <paramref name="inputs"/> holds token ids (exact in float32 below 2²⁴) as <c>[rows, sequence]</c>; the logits come back as
    /// <c>[rows × sequence, vocabulary]</c>, one row per position.
    /// </remarks>
    public ValueTask<ModelOutput> InferAsync(Float32Tensor inputs, IReadOnlyCollection<string>? intermediates = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        cancellationToken.ThrowIfCancellationRequested();
        if (inputs.Shape.Count != 2)
        {
            throw new ArgumentException($"Language model '{Metadata.Name}' reads token ids of shape [rows, sequence]; got {inputs.ShapeText}.", nameof(inputs));
        }
        lock (_gate)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            bool wasTraining = Model.training;
            Model.eval();
            try
            {
                ReadOnlySpan<float> values = inputs.Data.Span;
                var ids = new long[values.Length];
                for (int i = 0; i < ids.Length; i++)
                {
                    ids[i] = (long)values[i];
                }
                Tensor x = torch.tensor(ids, [inputs.Shape[0], inputs.Shape[1]], device: Device);
                var captured = new Dictionary<string, Tensor>();
                Tensor logits = ForwardRows(x, intermediates, captured);
                return ValueTask.FromResult(new ModelOutput(TorchModel.ToCpu(logits), captured.ToDictionary(kv => kv.Key, kv => TorchModel.ToCpu(kv.Value))));
            }
            finally
            {
                Model.train(wasTraining);
            }
        }
    }

    /// <summary>
    /// Held-out perplexity: exp of the mean next-token cross-entropy over every counting position of <paramref name="data"/>
    /// (for a <see cref="TokenWindowSource.Sequential"/> source, every token once).
    /// </summary>
    public double Perplexity(IBatchSource<TokenBatch> data, int batchSize = 32, CancellationToken cancellationToken = default) =>
        Math.Exp(Evaluate(data, null, batchSize, cancellationToken).MeanCrossEntropy);

    /// <summary>
    /// Evaluates the model on every counting position of <paramref name="data"/> (evaluation mode, no gradients): next-token
    /// accuracy and cross-entropy, and against <paramref name="teacher"/> (same vocabulary) greedy next-token agreement and
    /// KL(teacher ‖ model) per token.
    /// </summary>
    /// <exception cref="ArgumentException">The teacher's vocabulary differs.</exception>
    public RowMetrics Evaluate(IBatchSource<TokenBatch> data, TorchLanguageModel? teacher = null, int batchSize = 32, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (teacher is not null && teacher.VocabularySize != VocabularySize)
        {
            throw new ArgumentException($"Teacher '{teacher.Metadata.Name}' has a vocabulary of {teacher.VocabularySize}, this model {VocabularySize}; token-level comparisons need the same one.", nameof(teacher));
        }
        var metrics = new RowMetrics(VocabularySize);
        foreach (TokenBatch batch in data.GetBatches(batchSize, shuffle: false, seed: 0, epoch: 0))
        {
            cancellationToken.ThrowIfCancellationRequested();
            float[] rows = Rows(batch);
            metrics.Add(rows, batch.Targets, batch.Mask, teacher is null ? default : teacher.Rows(batch));
        }
        return metrics;
    }

    // The logit rows of a batch in evaluation mode, without gradients, in CPU memory.
    private float[] Rows(TokenBatch batch)
    {
        lock (_gate)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            bool wasTraining = Model.training;
            Model.eval();
            try
            {
                return ForwardRows(ToInput(batch)).detach().to(CPU).contiguous().data<float>().ToArray();
            }
            finally
            {
                Model.train(wasTraining);
            }
        }
    }

    /// <inheritdoc />
    public void SaveWeights(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var writer = new BinaryWriter(destination, System.Text.Encoding.UTF8, leaveOpen: true);
        Model.save(writer);
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
            Model.load(reader, strict: true);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            backup.Position = 0;
            using (var restore = new BinaryReader(backup))
            {
                Model.load(restore, strict: true);
            }
            throw new InvalidDataException(
                $"The weights do not fit language model '{Metadata.Name}' ({ex.Message}); the model keeps its previous weights.", ex);
        }
        Model.to(Device);
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }
        return serviceType.IsInstanceOfType(this) ? this : serviceType.IsInstanceOfType(Model) ? Model : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Model.Dispose();
        }
    }
}
