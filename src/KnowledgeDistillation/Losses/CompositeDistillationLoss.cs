using System.Buffers;
using System.Numerics.Tensors;
using KnowledgeDistillation.Schedules;

namespace KnowledgeDistillation.Losses;

/// <summary>
/// A weighted sum of losses: <c>Σ wᵢ(step)·lossᵢ</c>. Reports each term under <c>{name}</c> (unweighted), its weight
/// under <c>{name}.weight</c>, and the inner losses' own terms under <c>{name}.{term}</c>.
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
    }

    /// <summary>The terms.</summary>
    public IReadOnlyList<(IDistillationLoss Loss, ISchedule Weight)> Terms => _terms;

    /// <inheritdoc />
    public string Name => "composite";

    /// <inheritdoc />
    public bool RequiresTeacher => _terms.Any(t => t.Loss.RequiresTeacher);

    /// <inheritdoc />
    public LossValue Compute(in LossInputs inputs, Span<float> studentGradient)
    {
        studentGradient.Clear();
        float[] scratch = ArrayPool<float>.Shared.Rent(studentGradient.Length);
        try
        {
            Span<float> termGradient = scratch.AsSpan(0, studentGradient.Length);
            var terms = new Dictionary<string, float>();
            float total = 0;
            foreach ((IDistillationLoss loss, ISchedule weightSchedule) in _terms)
            {
                float weight = weightSchedule.ValueAt(inputs.Step, inputs.TotalSteps);
                if (!float.IsFinite(weight) || weight < 0)
                {
                    throw new ArgumentOutOfRangeException(nameof(inputs), weight, $"The weight of loss term '{loss.Name}' must be finite and non-negative.");
                }
                LossValue value = loss.Compute(inputs, termGradient);
                TensorPrimitives.MultiplyAdd(termGradient, weight, studentGradient, studentGradient);
                total += weight * value.Total;
                terms[loss.Name] = value.Total;
                terms[$"{loss.Name}.weight"] = weight;
                foreach ((string key, float v) in value.Terms)
                {
                    if (key != loss.Name)
                    {
                        terms[$"{loss.Name}.{key}"] = v;
                    }
                }
            }
            return new LossValue(total, terms);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }
    }
}
