using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;

namespace KnowledgeDistillation.TorchSharp.Teachers;

/// <summary>Any <see cref="ITeacher"/> (ONNX Runtime, an ensemble, a remote model) as a teacher: <see cref="ITeacher.InferAsync"/> on each batch's inputs, outside the training step.</summary>
internal sealed class InferenceTeacherSignal(ITeacher teacher) : ITeacherSignal<Batch>
{
    public ModelMetadata Metadata => teacher.Metadata;

    private string Name => teacher.Metadata.Name;

    private int ClassCount => teacher.Metadata.ClassCount;

    public TeacherTargetKinds Provides => TeacherTargetKinds.DenseLogits;

    public bool IsPrecomputed => false;

    public void EnsureCompatible(IBatchSource<Batch> data, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.ClassCount != ClassCount)
        {
            throw new ArgumentException($"The data has {data.ClassCount} classes but teacher '{Name}' has {ClassCount}.", parameterName);
        }
    }

    public async ValueTask<TeacherStepTargets> FetchAsync(Batch batch, TeacherSignalRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(request);
        ModelOutput output = await teacher.InferAsync(batch.Inputs, request.Features.Count > 0 ? request.Features : null, cancellationToken).ConfigureAwait(false);
        int rows = batch.Labels.Length;
        if (output.Logits.Shape.Count != 2 || output.Logits.Shape[0] != rows || output.Logits.Shape[1] != ClassCount)
        {
            throw new InvalidOperationException(
                $"Teacher '{Name}' returned logits of shape {output.Logits.ShapeText} for a batch of {rows}; expected [{rows}, {ClassCount}].");
        }
        foreach (string name in request.Features)
        {
            if (!output.Intermediates.ContainsKey(name))
            {
                throw new InvalidOperationException($"Teacher '{Name}' did not return the requested intermediate '{name}'.");
            }
        }
        return TeacherStepTargets.FromCpu(request.Targets ? TeacherTargets.Dense(output.Logits) : null, output.Intermediates);
    }
}
