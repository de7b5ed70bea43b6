using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Teachers;

/// <summary>
/// A dense teacher seen as an API or a top-k cache would show it: the <c>k</c> most likely classes of each row and their
/// log-probabilities at T = 1 (log-softmax, then top-k, on the device).
/// </summary>
internal sealed class TopKTeacherSignal<TBatch>(ITeacherSignal<TBatch> inner, int topK) : ITeacherSignal<TBatch>
{
    public ModelMetadata Metadata { get; } = inner.Metadata with { Name = $"{inner.Metadata.Name} (top-{topK} log-probabilities)" };

    public TeacherTargetKinds Provides => TeacherTargetKinds.TopK;

    public bool IsPrecomputed => inner.IsPrecomputed;

    public void EnsureCompatible(IBatchSource<TBatch> data, string parameterName) => inner.EnsureCompatible(data, parameterName);

    public async ValueTask<TeacherStepTargets> FetchAsync(TBatch batch, TeacherSignalRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        TeacherStepTargets dense = await inner.FetchAsync(batch, request, cancellationToken).ConfigureAwait(false);
        return TeacherStepTargets.OnDevice(() =>
        {
            dense.Prepare();
            Device device = request.Device;
            var features = request.Features.ToDictionary(n => n, n => dense.Feature(n, device));
            if (!request.Targets)
            {
                return new TeacherTensors(null, null, null, TopKValueKind.LogProbabilities, features);
            }
            Tensor logits = dense.DenseLogits(device);
            int k = Math.Min(topK, (int)logits.shape[1]);
            (Tensor values, Tensor indices) = nn.functional.log_softmax(logits, 1).topk(k, 1);
            return new TeacherTensors(null, indices, values, TopKValueKind.LogProbabilities, features);
        });
    }
}
