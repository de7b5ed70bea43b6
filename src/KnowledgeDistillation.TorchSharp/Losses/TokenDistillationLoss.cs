using System.Buffers;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Schedules;
using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.TorchSharp.LanguageModels;
using KnowledgeDistillation.TorchSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Losses;

/// <summary>
/// Token-level distillation of a language model: <c>α·D(teacher ‖ student) + (1 − α)·CE(next token)</c> over the token
/// positions that count, against the teacher's dense logits or its top-k log-probabilities (an API's, or a cache's).
/// The divergence, vocabulary handling (padded output rows, token mappings between tokenizers) and the treatment of a
/// sparse teacher's leftover mass follow <see cref="SequenceLossOptions"/> and <see cref="SequenceLossPolicy"/>, the same on
/// the fused CPU kernels (<see cref="SequenceDistillation"/>) and on TorchSharp operations (<see cref="TorchSequenceLosses"/>).
/// Terms: <c>kd</c>, <c>ce</c>; parameters: <c>alpha</c>, <c>temperature</c>.
/// </summary>
public sealed class TokenDistillationLoss : ITorchLogitLoss
{
    private readonly SequenceLossOptions _options;
    private readonly HardLabelLoss _crossEntropy = new();

    /// <summary>Creates the loss.</summary>
    /// <param name="alpha">Weight of the distillation term at each step, in [0, 1]; the next-token cross-entropy gets 1 − α.</param>
    /// <param name="temperature">Softmax temperature at each step (&gt; 0); replaces <see cref="SequenceLossOptions.Temperature"/>.</param>
    /// <param name="options">Divergence, vocabulary, leftover mass; null for forward KL over equal vocabularies.</param>
    /// <param name="mapping">Teacher → student token ids when the tokenizers differ (runs on the fused CPU kernels only).</param>
    public TokenDistillationLoss(ISchedule alpha, ISchedule temperature, SequenceLossOptions? options = null, TokenMapping? mapping = null)
    {
        Alpha = alpha ?? throw new ArgumentNullException(nameof(alpha));
        Temperature = temperature ?? throw new ArgumentNullException(nameof(temperature));
        _options = (options ?? new SequenceLossOptions()).Clone();
        _options.Validate();
        Mapping = mapping;
    }

    /// <summary>The α schedule.</summary>
    public ISchedule Alpha { get; }

    /// <summary>The temperature schedule.</summary>
    public ISchedule Temperature { get; }

    /// <summary>A copy of the divergence and vocabulary options (its temperature is replaced by <see cref="Temperature"/>'s value at each step).</summary>
    public SequenceLossOptions Options => _options.Clone();

    /// <summary>Teacher → student token ids, or null when the tokenizers are the same.</summary>
    public TokenMapping? Mapping { get; }

    /// <inheritdoc />
    public string Name => "token-kd";

    /// <inheritdoc />
    public TeacherTargetKinds AcceptedTargets => TeacherTargetKinds.DenseLogits | TeacherTargetKinds.TopK;

    /// <inheritdoc />
    public string? TorchOperationsUnavailableReason => Mapping is null ? null
        : $"loss '{Name}' maps teacher tokens to student tokens (TokenMapping), which runs on the fused CPU kernels only";

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The tokenizers differ without a <see cref="Mapping"/>, or the vocabulary sizes differ and neither <see cref="SequenceLossOptions.VocabularySize"/> nor a mapping says how to compare them.</exception>
    public bool AcceptsTeacher(ModelMetadata student, ModelMetadata teacher)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        if (Mapping is null && student.Vocabulary is { } s && teacher.Vocabulary is { } t && s != t)
        {
            throw new ArgumentException(
                $"The teacher's tokenizer '{t}' differs from the student's '{s}': token-level distillation compares distributions over the same token ids. Give the loss a TokenMapping (for example TokenMapping.ByTokenString), or use sequence-level distillation (train the student on teacher-generated text).",
                nameof(teacher));
        }
        if (Mapping is not null && Mapping.TeacherVocabularySize != teacher.ClassCount)
        {
            throw new ArgumentException($"The token mapping covers {Mapping.TeacherVocabularySize} teacher tokens but teacher '{teacher.Name}' has {teacher.ClassCount}; build the mapping over the teacher's full output layer.", nameof(teacher));
        }
        _ = SequenceLossPolicy.ComparedVocabulary(student.ClassCount, teacher.ClassCount, _options, Mapping);
        return true;
    }

    /// <inheritdoc />
    public LossValue Compute(in LossInputs inputs, Span<float> studentGradient)
    {
        (float alpha, float t, SequenceLossOptions options) = Parameters(inputs.Step, inputs.TotalSteps);
        int rows = inputs.Rows;
        bool[]? allRows = null;
        float[] kdGradient = ArrayPool<float>.Shared.Rent(studentGradient.Length);
        try
        {
            ReadOnlySpan<bool> mask = inputs.Mask;
            if (mask.IsEmpty)
            {
                allRows = ArrayPool<bool>.Shared.Rent(rows);
                mask = allRows.AsSpan(0, rows);
                allRows.AsSpan(0, rows).Fill(true);
            }
            float normalizer = SequenceLossPolicy.Divisor(inputs.Normalizer, SequenceDistillation.CountValidTokens(mask));
            Span<float> kdSpan = kdGradient.AsSpan(0, studentGradient.Length);
            SequenceLossValue kd;
            if (inputs.HasDenseTeacher)
            {
                kd = SequenceDistillation.DenseWithGradient(
                    inputs.StudentLogits, inputs.ClassCount, inputs.TeacherLogits, inputs.TeacherClassCount, mask, options, kdSpan, normalizer, Mapping);
            }
            else if (inputs.HasTopKTeacher)
            {
                kd = SequenceDistillation.SparseWithGradient(
                    inputs.StudentLogits, inputs.ClassCount, inputs.TeacherTopKIndices, inputs.TeacherTopKValues, inputs.TeacherTopK,
                    inputs.TeacherTopKValueKind, mask, options, kdSpan, normalizer, Mapping);
            }
            else
            {
                throw new ArgumentException($"Loss '{Name}' needs the teacher's logits or top-k log-probabilities, but none were given. Configure a teacher, or train with the cross-entropy alone.", nameof(inputs));
            }
            float ce = inputs.HasPartialMask
                ? _crossEntropy.Compute(new LossInputs(inputs.StudentLogits, [], inputs.Labels, inputs.ClassCount, inputs.Step, inputs.TotalSteps, normalizer) { Mask = inputs.Mask }, studentGradient).Total
                : DistillationPrimitives.HintonLossWithGradient(
                    inputs.StudentLogits, inputs.StudentLogits, inputs.Labels, inputs.ClassCount, 1f, 0f, studentGradient, new KernelOptions { Normalizer = normalizer }).HardLabel;
            // studentGradient holds the CE gradient: total = α·kd + (1 − α)·ce.
            TensorPrimitives.Multiply(studentGradient, 1 - alpha, studentGradient);
            TensorPrimitives.MultiplyAdd(kdSpan, alpha, studentGradient, studentGradient);
            return new LossValue(
                (alpha * kd.Loss) + ((1 - alpha) * ce),
                new Dictionary<string, float> { ["kd"] = kd.Loss, ["ce"] = ce },
                new Dictionary<string, float> { ["alpha"] = alpha, ["temperature"] = t });
        }
        finally
        {
            ArrayPool<float>.Shared.Return(kdGradient);
            if (allRows is not null)
            {
                ArrayPool<bool>.Shared.Return(allRows);
            }
        }
    }

    /// <inheritdoc />
    public TorchLossValue ComputeOnDevice(in TorchLossInputs inputs)
    {
        if (TorchOperationsUnavailableReason is { } reason)
        {
            throw new ArgumentException($"The TorchSharp-operations path cannot run: {reason}. Use LogitLossPath.FusedCpuKernels.", nameof(inputs));
        }
        (float alpha, float t, SequenceLossOptions options) = Parameters(inputs.Step, inputs.TotalSteps);
        Tensor student = inputs.StudentLogits.unsqueeze(0);
        Tensor mask = (inputs.Mask ?? torch.ones(inputs.StudentLogits.shape[0], dtype: ScalarType.Bool, device: inputs.StudentLogits.device)).unsqueeze(0);
        Tensor kd;
        if (inputs.TeacherLogits is { } dense)
        {
            kd = TorchSequenceLosses.Dense(student, dense.unsqueeze(0), mask, options, inputs.Normalizer, LogitLossPath.TorchOperations);
        }
        else if (inputs.TeacherTopKIndices is { } indices && inputs.TeacherTopKValues is { } values)
        {
            kd = TorchSequenceLosses.SparseTopK(student, indices.unsqueeze(0), values.unsqueeze(0), inputs.TeacherTopKValueKind, mask, options, inputs.Normalizer, LogitLossPath.TorchOperations);
        }
        else
        {
            throw new ArgumentException($"Loss '{Name}' needs the teacher's logits or top-k log-probabilities, but none were given.", nameof(inputs));
        }
        Tensor ce = TorchRows.CrossEntropy(inputs.StudentLogits, inputs.Labels, inputs.Mask, inputs.Normalizer);
        return new TorchLossValue(
            TorchRows.Weighted(kd, alpha, ce, 1 - alpha),
            new Dictionary<string, Tensor> { ["kd"] = kd, ["ce"] = ce },
            new Dictionary<string, float> { ["alpha"] = alpha, ["temperature"] = t });
    }

    private (float Alpha, float Temperature, SequenceLossOptions Options) Parameters(long step, long totalSteps)
    {
        float alpha = TorchRows.Alpha(Alpha.ValueAt(step, totalSteps));
        float t = TorchRows.Temperature(Temperature.ValueAt(step, totalSteps));
        // One copy of the options per temperature, not per call (the step's allocation budget); never mutated once published.
        TemperedOptions? cached = _tempered;
        if (cached is null || cached.Temperature != t)
        {
            SequenceLossOptions options = _options.Clone();
            options.Temperature = t;
            _tempered = cached = new TemperedOptions(t, options);
        }
        return (alpha, t, cached.Options);
    }

    private TemperedOptions? _tempered;

    private sealed record TemperedOptions(float Temperature, SequenceLossOptions Options);
}
