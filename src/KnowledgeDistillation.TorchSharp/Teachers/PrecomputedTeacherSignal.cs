using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;

namespace KnowledgeDistillation.TorchSharp.Teachers;

/// <summary>Precomputed targets (a teacher cache, recorded answers) looked up by the batch's rows; no teacher runs.</summary>
internal sealed class PrecomputedTeacherSignal<TBatch>(ITeacherTargetSource<TBatch> source) : ITeacherSignal<TBatch>
{
    public ModelMetadata Metadata { get; } = new(source.TeacherId, source.ClassCount, null, []);

    private string Name => source.TeacherId;

    private int ClassCount => source.ClassCount;

    public TeacherTargetKinds Provides => source.Provides;

    public bool IsPrecomputed => true;

    public void EnsureCompatible(IBatchSource<TBatch> data, string parameterName) => source.EnsureMatches(data);

    public async ValueTask<TeacherStepTargets> FetchAsync(TBatch batch, TeacherSignalRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Features.Count > 0)
        {
            throw new InvalidOperationException($"Teacher targets '{Name}' are precomputed logits; they hold no intermediate features ({string.Join(", ", request.Features)}).");
        }
        if (!request.Targets)
        {
            return TeacherStepTargets.FromCpu(null);
        }
        TeacherTargets targets = await source.GetTargetsAsync(batch, cancellationToken).ConfigureAwait(false);
        if (targets.ClassCount != ClassCount)
        {
            throw new InvalidOperationException($"Teacher targets '{Name}' gave rows of {targets.ClassCount} classes; expected {ClassCount}.");
        }
        return TeacherStepTargets.FromCpu(targets);
    }
}
