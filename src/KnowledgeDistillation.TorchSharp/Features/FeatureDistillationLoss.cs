using TorchSharp.Modules;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Features;

/// <summary>
/// A loss between intermediate features of the student and the teacher, computed with TorchSharp operations (autograd)
/// over one or more <see cref="LayerPair"/>s. The trainer (<see cref="Training.TorchDistiller.FeatureLosses"/>) adds
/// <see cref="Weight"/> × <see cref="Compute"/> to the logit loss and reports the unweighted value under <see cref="Name"/>.
/// </summary>
/// <remarks>
/// Teacher features are detached: no gradient reaches the teacher. Losses with trainable parts (the FitNets regressor)
/// create them lazily from the first observed shapes (<see cref="Initialize"/>) and expose them through
/// <see cref="Parameters"/>, which the trainer optimises together with the student; they are never part of the student's
/// module, so they are not in its saved weights or ONNX export.
/// </remarks>
public abstract class FeatureDistillationLoss : IDisposable
{
    /// <summary>Creates the loss.</summary>
    /// <exception cref="ArgumentException">No pairs, a blank name, or a weight that is negative or not finite.</exception>
    protected FeatureDistillationLoss(string name, IEnumerable<LayerPair> pairs, float weight)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(pairs);
        Pairs = pairs.ToArray();
        if (Pairs.Count == 0)
        {
            throw new ArgumentException($"Loss '{name}' needs at least one student:teacher layer pair.", nameof(pairs));
        }
        if (Pairs.Any(p => string.IsNullOrWhiteSpace(p.Student) || string.IsNullOrWhiteSpace(p.Teacher)))
        {
            throw new ArgumentException($"Loss '{name}' has a layer pair with a blank name: {string.Join(", ", Pairs)}.", nameof(pairs));
        }
        if (!float.IsFinite(weight) || weight < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight, $"The weight of loss '{name}' must be finite and non-negative.");
        }
        Name = name;
        Weight = weight;
    }

    /// <summary>The key of this loss in the training history (for example <c>at</c>, <c>fitnet</c>).</summary>
    public string Name { get; }

    /// <summary>The student/teacher layer pairs.</summary>
    public IReadOnlyList<LayerPair> Pairs { get; }

    /// <summary>The weight of this term in the total loss.</summary>
    public float Weight { get; }

    /// <summary>Whether <see cref="Initialize"/> has run.</summary>
    public bool IsInitialized { get; private set; }

    /// <summary>Trainable parameters of this loss (adapters); empty for losses without any.</summary>
    public virtual IReadOnlyList<Parameter> Parameters => [];

    /// <summary>
    /// Prepares the loss for features of the given shapes (one per pair, batch dimension first), creating any adapters on
    /// <paramref name="device"/>. Called once by the trainer before the optimizer is built; later calls are ignored.
    /// </summary>
    /// <exception cref="ArgumentException">The shapes do not suit this loss; the message names the pair and the shapes.</exception>
    public void Initialize(IReadOnlyList<long[]> studentShapes, IReadOnlyList<long[]> teacherShapes, Device device)
    {
        ArgumentNullException.ThrowIfNull(studentShapes);
        ArgumentNullException.ThrowIfNull(teacherShapes);
        ArgumentNullException.ThrowIfNull(device);
        if (IsInitialized)
        {
            return;
        }
        CheckCounts(studentShapes.Count, teacherShapes.Count);
        for (int i = 0; i < Pairs.Count; i++)
        {
            if (studentShapes[i].Length < 2 || teacherShapes[i].Length < 2 || studentShapes[i][0] != teacherShapes[i][0])
            {
                throw new ArgumentException(
                    $"Loss '{Name}', pair {Pairs[i]}: features must be [batch, …] with the same batch size; got student {Shape(studentShapes[i])} and teacher {Shape(teacherShapes[i])}.",
                    nameof(studentShapes));
            }
        }
        OnInitialize(studentShapes, teacherShapes, device);
        IsInitialized = true;
    }

    /// <summary>
    /// The unweighted loss, a scalar tensor averaged over the batch (and summed over the pairs), differentiable with respect to
    /// the student features and this loss's <see cref="Parameters"/>. <paramref name="teacher"/> features are detached here.
    /// </summary>
    public Tensor Compute(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        CheckCounts(student.Count, teacher.Count);
        if (!IsInitialized)
        {
            Initialize(student.Select(s => s.shape).ToArray(), teacher.Select(t => t.shape).ToArray(), student[0].device);
        }
        return ComputeCore(student, teacher.Select(t => t.detach()).ToArray());
    }

    /// <summary>Puts adapters in training or evaluation mode.</summary>
    public virtual void Train(bool training)
    {
    }

    /// <summary>Creates adapters for the observed shapes (default: nothing to create).</summary>
    protected virtual void OnInitialize(IReadOnlyList<long[]> studentShapes, IReadOnlyList<long[]> teacherShapes, Device device)
    {
    }

    /// <summary>Computes the loss; <paramref name="teacher"/> is already detached.</summary>
    protected abstract Tensor ComputeCore(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher);

    /// <summary>Formats a shape for messages.</summary>
    protected static string Shape(long[] shape) => $"[{string.Join(", ", shape)}]";

    /// <summary>Releases adapters.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    private void CheckCounts(int student, int teacher)
    {
        if (student != Pairs.Count || teacher != Pairs.Count)
        {
            throw new ArgumentException($"Loss '{Name}' has {Pairs.Count} layer pair(s) but got {student} student and {teacher} teacher feature(s).");
        }
    }
}
