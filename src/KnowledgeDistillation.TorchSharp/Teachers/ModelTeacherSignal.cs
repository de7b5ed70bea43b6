using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.TorchSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Teachers;

/// <summary>A TorchSharp model as a teacher on the device: its forward pass runs inside the training step (evaluation mode, no gradients), and its logits and features stay tensors.</summary>
internal sealed class ModelTeacherSignal<TBatch>(ITorchModel<TBatch> teacher) : ITeacherSignal<TBatch>
{
    public ModelMetadata Metadata => teacher.Metadata;

    public TeacherTargetKinds Provides => TeacherTargetKinds.DenseLogits;

    public bool IsPrecomputed => false;

    public void EnsureCompatible(IBatchSource<TBatch> data, string parameterName) => teacher.EnsureCompatible(data, parameterName);

    public ValueTask<TeacherStepTargets> FetchAsync(TBatch batch, TeacherSignalRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(TeacherStepTargets.OnDevice(() =>
        {
            using var noGrad = torch.no_grad();
            teacher.Module.eval();
            var captured = new Dictionary<string, Tensor>();
            Tensor logits = teacher.ForwardRows(teacher.ToInput(batch), request.Features.Count > 0 ? request.Features : null, captured);
            Device device = request.Device;
            Dictionary<string, Tensor> features = teacher.Device == device ? captured : captured.ToDictionary(kv => kv.Key, kv => kv.Value.to(device));
            return new TeacherTensors(request.Targets ? logits.to(device) : null, null, null, TopKValueKind.Logits, features);
        }));
    }
}
