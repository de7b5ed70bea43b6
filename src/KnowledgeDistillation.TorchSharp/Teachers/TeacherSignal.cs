using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.TorchSharp.Models;

namespace KnowledgeDistillation.TorchSharp.Teachers;

/// <summary>Builds <see cref="ITeacherSignal{TBatch}"/>s from the teachers users have.</summary>
public static class TeacherSignal
{
    /// <summary>A TorchSharp model run on the device inside each training step (no copy of its logits or features to the CPU).</summary>
    public static ITeacherSignal<TBatch> FromModel<TBatch>(ITorchModel<TBatch> teacher)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        return new ModelTeacherSignal<TBatch>(teacher);
    }

    /// <summary>
    /// Any <see cref="ITeacher"/> of an image (or fixed-shape) classifier: ONNX Runtime, an ensemble, a remote model. A teacher
    /// that is a TorchSharp model (it returns an <see cref="ITorchModel{TBatch}"/> from <see cref="ITeacher.GetService"/>) runs
    /// on the device as <see cref="FromModel{TBatch}"/> does; every other one through <see cref="ITeacher.InferAsync"/>.
    /// </summary>
    public static ITeacherSignal<Batch> FromTeacher(ITeacher teacher)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        return teacher.GetService(typeof(ITorchModel<Batch>)) is ITorchModel<Batch> model
            ? new ModelTeacherSignal<Batch>(model)
            : new InferenceTeacherSignal(teacher);
    }

    /// <summary>Precomputed targets (a <see cref="Caching.TeacherCache"/>, recorded answers), looked up by the batch's rows.</summary>
    public static ITeacherSignal<TBatch> FromTargets<TBatch>(ITeacherTargetSource<TBatch> targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        return new PrecomputedTeacherSignal<TBatch>(targets);
    }

    /// <summary>
    /// The teacher's <paramref name="topK"/> most likely classes per row with their log-probabilities at T = 1, as an API's
    /// top log-probabilities or a top-k cache give them, from a signal that provides dense logits.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="dense"/> does not provide dense logits, or topK &lt; 1.</exception>
    public static ITeacherSignal<TBatch> TopK<TBatch>(this ITeacherSignal<TBatch> dense, int topK)
    {
        ArgumentNullException.ThrowIfNull(dense);
        ArgumentOutOfRangeException.ThrowIfLessThan(topK, 1);
        if (!dense.Provides.HasFlag(TeacherTargetKinds.DenseLogits))
        {
            throw new ArgumentException($"Teacher '{dense.Metadata.Name}' provides {dense.Provides}, not dense logits to take the top-{topK} of.", nameof(dense));
        }
        return new TopKTeacherSignal<TBatch>(dense, topK);
    }
}
