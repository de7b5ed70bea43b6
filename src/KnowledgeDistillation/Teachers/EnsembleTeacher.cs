using System.Numerics.Tensors;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Teachers;

/// <summary>
/// Several teachers acting as one: usable wherever an <see cref="ITeacher"/> is. Members run one after the other on
/// the same inputs (they usually compete for the same cores) and their outputs are combined per
/// <see cref="EnsembleTeacherOptions"/>. Intermediate outputs are not combined (members' layers need not match):
/// pair feature losses with one member instead.
/// </summary>
public sealed class EnsembleTeacher : ITeacher
{
    private readonly ITeacher[] _members;
    private readonly double[] _weights;
    private readonly EnsembleTeacherOptions _options;
    private bool _disposed;

    /// <summary>Creates the ensemble; all members must predict the same number of classes.</summary>
    /// <exception cref="ArgumentException">No members, a null member, members with different class counts, or invalid options.</exception>
    public EnsembleTeacher(IEnumerable<ITeacher> members, EnsembleTeacherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        _members = members.ToArray();
        _options = options ?? new EnsembleTeacherOptions();
        if (_members.Length == 0)
        {
            throw new ArgumentException("An ensemble needs at least one teacher.", nameof(members));
        }
        int nullAt = Array.FindIndex(_members, m => m is null);
        if (nullAt >= 0)
        {
            throw new ArgumentException($"Teacher {nullAt} of the ensemble is null.", nameof(members));
        }
        _options.Validate(_members.Length);
        int classes = _members[0].Metadata.ClassCount;
        if (_members.Any(m => m.Metadata.ClassCount != classes))
        {
            throw new ArgumentException(
                "The ensemble's teachers predict different numbers of classes: " +
                string.Join(", ", _members.Select(m => $"'{m.Metadata.Name}' {m.Metadata.ClassCount}")) + ". All members must share one label space.",
                nameof(members));
        }
        double[] raw = _options.Weights?.ToArray() ?? Enumerable.Repeat(1.0, _members.Length).ToArray();
        double sum = raw.Sum();
        _weights = raw.Select(w => w / sum).ToArray();
        long? parameters = _members.All(m => m.Metadata.ParameterCount is not null) ? _members.Sum(m => m.Metadata.ParameterCount!.Value) : null;
        Metadata = new ModelMetadata(
            _options.Name ?? $"ensemble({string.Join(", ", _members.Select(m => m.Metadata.Name))})", classes, parameters, []);
    }

    /// <inheritdoc />
    public ModelMetadata Metadata { get; }

    /// <summary>The members, in order.</summary>
    public IReadOnlyList<ITeacher> Members => _members;

    /// <summary>The normalised fixed weights (sum 1), in the members' order.</summary>
    public IReadOnlyList<double> Weights => _weights;

    /// <inheritdoc />
    /// <exception cref="ArgumentException">Intermediate outputs were requested.</exception>
    /// <exception cref="InvalidOperationException">A member returned logits of an unexpected shape.</exception>
    public async ValueTask<ModelOutput> InferAsync(Float32Tensor inputs, IReadOnlyCollection<string>? intermediates = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(inputs);
        if (intermediates is { Count: > 0 })
        {
            throw new ArgumentException(
                $"Ensemble '{Metadata.Name}' does not combine intermediate outputs ({string.Join(", ", intermediates)} were requested): pair feature losses with one member of the ensemble instead.",
                nameof(intermediates));
        }
        int rows = inputs.Rows;
        int classes = Metadata.ClassCount;
        var memberLogits = new ReadOnlyMemory<float>[_members.Length];
        for (int i = 0; i < _members.Length; i++)
        {
            if (_weights[i] == 0)
            {
                continue;
            }
            cancellationToken.ThrowIfCancellationRequested();
            ModelOutput output = await _members[i].InferAsync(inputs, null, cancellationToken).ConfigureAwait(false);
            if (output.Logits.Shape.Count != 2 || output.Logits.Shape[0] != rows || output.Logits.Shape[1] != classes)
            {
                throw new InvalidOperationException(
                    $"Ensemble member {i} ('{_members[i].Metadata.Name}') returned logits of shape {output.Logits.ShapeText} for {rows} inputs; expected [{rows}, {classes}].");
            }
            memberLogits[i] = output.Logits.Data;
        }
        var combined = new float[rows * classes];
        Combine(memberLogits, _weights, classes, _options.Combination, _options.WeightByConfidence, combined);
        return new ModelOutput(new Float32Tensor(combined, rows, classes));
    }

    /// <summary>
    /// Combines members' <c>[rows × classes]</c> logits into <paramref name="destination"/> (the same combination
    /// <see cref="InferAsync"/> uses; public so offline pipelines can combine stored logits). Members whose weight is 0
    /// are skipped (their entry may be empty). The mixture of probabilities is computed in log space, so the result is
    /// finite even when a member is certain.
    /// </summary>
    public static void Combine(
        IReadOnlyList<ReadOnlyMemory<float>> memberLogits, IReadOnlyList<double> weights, int classes,
        EnsembleCombination combination, bool weightByConfidence, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(memberLogits);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        if (weights.Count != memberLogits.Count)
        {
            throw new ArgumentException($"There are {memberLogits.Count} members but {weights.Count} weights.", nameof(weights));
        }
        if (destination.Length % classes != 0)
        {
            throw new ArgumentException($"The destination length {destination.Length} is not a multiple of {classes} classes.", nameof(destination));
        }
        int rows = destination.Length / classes;
        var active = Enumerable.Range(0, memberLogits.Count).Where(i => weights[i] > 0).ToArray();
        if (active.Length == 0)
        {
            throw new ArgumentException("All weights are 0.", nameof(weights));
        }
        foreach (int i in active)
        {
            if (memberLogits[i].Length != destination.Length)
            {
                throw new ArgumentException($"Member {i} has {memberLogits[i].Length} logits; expected {rows} × {classes} = {destination.Length}.", nameof(memberLogits));
            }
        }

        // Log-softmax of every member, needed by the mixture and by confidence weights (plain logit averaging needs none).
        bool needLogProbabilities = combination == EnsembleCombination.AverageProbabilities || weightByConfidence;
        var logProbabilities = new float[active.Length][];
        for (int a = 0; a < active.Length && needLogProbabilities; a++)
        {
            logProbabilities[a] = new float[destination.Length];
            DistillationPrimitives.LogSoftmax(memberLogits[active[a]].Span, classes, 1f, logProbabilities[a]);
        }
        var logWeights = new float[active.Length];
        var scratch = new float[classes];
        var maxima = new float[classes];
        for (int row = 0; row < rows; row++)
        {
            RowLogWeights(logProbabilities, active, weights, row, classes, weightByConfidence, logWeights);
            Span<float> target = destination.Slice(row * classes, classes);
            if (combination == EnsembleCombination.AverageLogits)
            {
                target.Clear();
                for (int a = 0; a < active.Length; a++)
                {
                    TensorPrimitives.MultiplyAdd(memberLogits[active[a]].Span.Slice(row * classes, classes), MathF.Exp(logWeights[a]), target, target);
                }
                continue;
            }
            // log Σ_i w_i p_i = m + log Σ_i exp(log w_i + log p_i − m), with m the element-wise maximum.
            maxima.AsSpan().Fill(float.NegativeInfinity);
            for (int a = 0; a < active.Length; a++)
            {
                TensorPrimitives.Add(logProbabilities[a].AsSpan(row * classes, classes), logWeights[a], scratch);
                TensorPrimitives.Max(maxima, scratch, maxima);
            }
            target.Clear();
            for (int a = 0; a < active.Length; a++)
            {
                TensorPrimitives.Add(logProbabilities[a].AsSpan(row * classes, classes), logWeights[a], scratch);
                TensorPrimitives.Subtract(scratch, maxima, scratch);
                TensorPrimitives.Exp(scratch, scratch);
                TensorPrimitives.Add(target, scratch, target);
            }
            TensorPrimitives.Log(target, target);
            TensorPrimitives.Add(target, maxima, target);
        }
    }

    // The log of each active member's weight for one row: fixed weights, times the member's confidence when asked,
    // renormalised to sum 1.
    private static void RowLogWeights(float[][] logProbabilities, int[] active, IReadOnlyList<double> weights, int row, int classes, bool byConfidence, Span<float> logWeights)
    {
        float max = float.NegativeInfinity;
        for (int a = 0; a < active.Length; a++)
        {
            float lw = (float)Math.Log(weights[active[a]]);
            if (byConfidence)
            {
                lw += TensorPrimitives.Max(logProbabilities[a].AsSpan(row * classes, classes));
            }
            logWeights[a] = lw;
            max = MathF.Max(max, lw);
        }
        float sum = 0;
        for (int a = 0; a < active.Length; a++)
        {
            sum += MathF.Exp(logWeights[a] - max);
        }
        float logSum = max + MathF.Log(sum);
        for (int a = 0; a < active.Length; a++)
        {
            logWeights[a] -= logSum;
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (_options.DisposeMembers)
        {
            foreach (ITeacher member in _members)
            {
                member.Dispose();
            }
        }
    }
}
