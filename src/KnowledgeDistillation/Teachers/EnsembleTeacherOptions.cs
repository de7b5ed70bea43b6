using System.Globalization;

namespace KnowledgeDistillation.Teachers;

/// <summary>Options of <see cref="EnsembleTeacher"/>; every default is documented on its property.</summary>
public sealed class EnsembleTeacherOptions
{
    /// <summary>How outputs are combined. Default <see cref="EnsembleCombination.AverageProbabilities"/>.</summary>
    public EnsembleCombination Combination { get; set; } = EnsembleCombination.AverageProbabilities;

    /// <summary>
    /// Fixed non-negative weight per member, in the members' order (normalised to sum 1). Default <see langword="null"/>:
    /// equal weights. A member with weight 0 is not run.
    /// </summary>
    public IReadOnlyList<double>? Weights { get; set; }

    /// <summary>
    /// When <see langword="true"/>, each sample's weights are also proportional to each member's confidence on that
    /// sample (its largest softmax probability), so a member that is unsure about a sample counts less there.
    /// Default <see langword="false"/>.
    /// </summary>
    public bool WeightByConfidence { get; set; }

    /// <summary>The ensemble's name in metadata and logs. Default <see langword="null"/>: <c>ensemble(member, …)</c>.</summary>
    public string? Name { get; set; }

    /// <summary>Whether disposing the ensemble disposes its members. Default <see langword="true"/>.</summary>
    public bool DisposeMembers { get; set; } = true;

    /// <summary>Every problem with these options for an ensemble of <paramref name="memberCount"/> members (empty when valid).</summary>
    public IReadOnlyList<string> GetErrors(int memberCount)
    {
        var errors = new List<string>();
        if (!Enum.IsDefined(Combination))
        {
            errors.Add($"Combination {(int)Combination} is not an EnsembleCombination value.");
        }
        if (Weights is { } weights)
        {
            if (weights.Count != memberCount)
            {
                errors.Add($"Weights has {weights.Count} entries but the ensemble has {memberCount} members: give one weight per member, in order.");
            }
            for (int i = 0; i < weights.Count; i++)
            {
                if (!(weights[i] >= 0) || !double.IsFinite(weights[i]))
                {
                    errors.Add($"Weights[{i}] must be finite and non-negative (was {weights[i].ToString(CultureInfo.InvariantCulture)}).");
                }
            }
            if (weights.All(w => w >= 0 && double.IsFinite(w)) && !(weights.Sum() > 0))
            {
                errors.Add("Weights must not all be 0: at least one member has to count.");
            }
        }
        return errors;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> listing every problem, if any.</summary>
    public void Validate(int memberCount)
    {
        IReadOnlyList<string> errors = GetErrors(memberCount);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid EnsembleTeacherOptions: " + string.Join(" ", errors), "options");
        }
    }
}
