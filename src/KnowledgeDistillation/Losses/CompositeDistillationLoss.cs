using System.Buffers;
using System.Numerics.Tensors;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Schedules;

namespace KnowledgeDistillation.Losses;

/// <summary>
/// A weighted sum of losses: <c>Σ wᵢ(step)·lossᵢ</c>. Reports each term under <c>{name}</c> (unweighted) and the inner
/// losses' own terms under <c>{name}.{term}</c>; its parameters are each term's weight under <c>{name}.weight</c> and the
/// inner losses' parameters under <c>{name}.{parameter}</c>.
/// </summary>
public sealed class CompositeDistillationLoss : IDistillationLoss
{
    private readonly (IDistillationLoss Loss, ISchedule Weight)[] _terms;

    /// <summary>Creates the composite.</summary>
    /// <exception cref="ArgumentException">No terms, or two terms share a name.</exception>
    public CompositeDistillationLoss(IEnumerable<(IDistillationLoss Loss, ISchedule Weight)> terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        _terms = terms.ToArray();
        if (_terms.Length == 0)
        {
            throw new ArgumentException("A composite loss needs at least one term.", nameof(terms));
        }
        var duplicate = _terms.GroupBy(t => t.Loss.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Two terms of the composite loss are named '{duplicate.Key}'; names must be unique.", nameof(terms));
        }
        AcceptedTargets = LossGuards.Intersect(_terms.Select(t => t.Loss));
    }

    /// <summary>The terms.</summary>
    public IReadOnlyList<(IDistillationLoss Loss, ISchedule Weight)> Terms => _terms;

    /// <inheritdoc />
    public string Name => "composite";

    /// <inheritdoc />
    /// <remarks>What every term that learns from a teacher accepts; <see cref="TeacherTargetKinds.None"/> when no term needs one.</remarks>
    public TeacherTargetKinds AcceptedTargets { get; }

    /// <summary>Each term's weight at <paramref name="step"/>, checked to be finite and non-negative.</summary>
    public float WeightAt(int term, long step, long totalSteps)
    {
        (IDistillationLoss loss, ISchedule schedule) = _terms[term];
        float weight = schedule.ValueAt(step, totalSteps);
        if (!float.IsFinite(weight) || weight < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(step), weight, $"The weight of loss term '{loss.Name}' must be finite and non-negative; its schedule gives {weight} at step {step}.");
        }
        return weight;
    }

    /// <inheritdoc />
    public LossValue Compute(in LossInputs inputs, Span<float> studentGradient)
    {
        if (inputs.HasPartialMask)
        {
            // Gather the rows once for all terms.
            return MaskedRows.Compute(this, inputs, studentGradient);
        }
        studentGradient.Clear();
        float[] scratch = ArrayPool<float>.Shared.Rent(studentGradient.Length);
        try
        {
            Span<float> termGradient = scratch.AsSpan(0, studentGradient.Length);
            var terms = new Dictionary<string, float>();
            var parameters = new Dictionary<string, float>();
            float total = 0;
            for (int i = 0; i < _terms.Length; i++)
            {
                IDistillationLoss loss = _terms[i].Loss;
                float weight = WeightAt(i, inputs.Step, inputs.TotalSteps);
                LossValue value = loss.Compute(inputs, termGradient);
                TensorPrimitives.MultiplyAdd(termGradient, weight, studentGradient, studentGradient);
                total += weight * value.Total;
                Collect(loss.Name, weight, value, terms, parameters);
            }
            return new LossValue(total, terms, parameters);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }
    }

    /// <summary>Adds one term's reports under the composite's naming (see the class remarks); shared with backends' forms of the composite.</summary>
    public static void Collect(string name, float weight, LossValue value, IDictionary<string, float> terms, IDictionary<string, float> parameters)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(terms);
        ArgumentNullException.ThrowIfNull(parameters);
        terms[name] = value.Total;
        parameters[$"{name}.weight"] = weight;
        foreach ((string key, float v) in value.Terms)
        {
            if (key != name)
            {
                terms[$"{name}.{key}"] = v;
            }
        }
        foreach ((string key, float v) in value.Parameters)
        {
            parameters[$"{name}.{key}"] = v;
        }
    }
}
