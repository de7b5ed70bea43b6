using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Teachers;

/// <summary>
/// A teacher's targets for one training step, in whichever memory they came in — CPU arrays (an ONNX teacher, a cache)
/// or tensors on a device (a TorchSharp teacher) — and converted on demand, once, to the other: the fused CPU kernels read
/// spans, the TorchSharp form of a loss reads tensors, and nothing is copied that no one reads.
/// </summary>
public sealed class TeacherStepTargets
{
    private readonly TeacherTargets? _cpu;
    private readonly IReadOnlyDictionary<string, Float32Tensor> _cpuFeatures;
    private Func<TeacherTensors>? _deferred;
    private TeacherTensors? _tensors;
    private Tensor? _denseOnCpu;
    private (Tensor Indices, Tensor Values)? _topKOnCpu;

    private TeacherStepTargets(TeacherTargets? cpu, IReadOnlyDictionary<string, Float32Tensor>? cpuFeatures, Func<TeacherTensors>? deferred)
    {
        _cpu = cpu;
        _cpuFeatures = cpuFeatures ?? new Dictionary<string, Float32Tensor>();
        _deferred = deferred;
    }

    /// <summary>Targets in CPU memory (from <see cref="ITeacher.InferAsync"/> or an <see cref="ITeacherTargetSource{TBatch}"/>).</summary>
    /// <param name="targets">The logit targets, or null when only features were requested.</param>
    /// <param name="features">Named intermediate features, or null.</param>
    public static TeacherStepTargets FromCpu(TeacherTargets? targets, IReadOnlyDictionary<string, Float32Tensor>? features = null) => new(targets, features, null);

    /// <summary>Targets computed on the device by <paramref name="compute"/> when the step calls <see cref="Prepare"/>, inside its dispose scope.</summary>
    public static TeacherStepTargets OnDevice(Func<TeacherTensors> compute)
    {
        ArgumentNullException.ThrowIfNull(compute);
        return new(null, null, compute);
    }

    /// <summary>Runs the deferred device work (a TorchSharp teacher's forward pass). The trainer calls it inside the step's dispose scope, before reading anything.</summary>
    public void Prepare()
    {
        if (_deferred is { } compute)
        {
            _deferred = null;
            _tensors = compute();
        }
    }

    /// <summary>The logit target forms present (<see cref="TeacherTargetKinds.None"/> when only features were fetched).</summary>
    public TeacherTargetKinds Kind
    {
        get
        {
            EnsurePrepared();
            if (_tensors is { } t)
            {
                return (t.DenseLogits is null ? TeacherTargetKinds.None : TeacherTargetKinds.DenseLogits) | (t.TopKIndices is null ? TeacherTargetKinds.None : TeacherTargetKinds.TopK);
            }
            return _cpu?.Kind ?? TeacherTargetKinds.None;
        }
    }

    /// <summary>Rows of the targets.</summary>
    public int Rows
    {
        get
        {
            EnsurePrepared();
            return _tensors is { } t ? (int)(t.DenseLogits ?? t.TopKIndices)!.shape[0] : _cpu?.Rows ?? 0;
        }
    }

    /// <summary>Classes (or vocabulary entries) of the teacher's output.</summary>
    public int ClassCount
    {
        get
        {
            EnsurePrepared();
            return _tensors is { DenseLogits: { } d } ? (int)d.shape[1] : _cpu?.ClassCount ?? 0;
        }
    }

    /// <summary>Entries per row of top-k targets (0 without them).</summary>
    public int TopK
    {
        get
        {
            EnsurePrepared();
            return _tensors is { TopKIndices: { } i } ? (int)i.shape[1] : _cpu?.TopK ?? 0;
        }
    }

    /// <summary>What top-k values are.</summary>
    public TopKValueKind TopKValueKind
    {
        get
        {
            EnsurePrepared();
            return _tensors?.ValueKind ?? _cpu?.ValueKind ?? TopKValueKind.Logits;
        }
    }

    /// <summary>The dense logits as a tensor <c>[rows, classes]</c> on <paramref name="device"/>.</summary>
    /// <exception cref="InvalidOperationException">There are no dense logits.</exception>
    public Tensor DenseLogits(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        EnsurePrepared();
        if (_tensors is { DenseLogits: { } dense })
        {
            return dense.device == device ? dense : dense.to(device);
        }
        Float32Tensor logits = _cpu?.Logits ?? throw Missing("dense logits");
        Tensor cpu = torch.tensor(logits.Data.ToArray(), [logits.Rows, logits.Shape[1]]);
        return device.type == DeviceType.CPU ? cpu : cpu.to(device);
    }

    /// <summary>
    /// The dense logits in CPU memory, row-major <c>[rows × classes]</c>: the arrays they came in, or the storage of the
    /// teacher's tensor itself when it is a contiguous CPU float32 tensor (no copy; valid while the step's dispose scope lives).
    /// </summary>
    /// <exception cref="InvalidOperationException">There are no dense logits.</exception>
    public ReadOnlySpan<float> DenseLogitsOnCpu()
    {
        EnsurePrepared();
        if (_cpu?.Logits is { } logits)
        {
            return logits.Data.Span;
        }
        Tensor dense = _tensors?.DenseLogits ?? throw Missing("dense logits");
        return TensorSpans.Of<float>(_denseOnCpu ??= TensorSpans.OnCpu(dense, ScalarType.Float32));
    }

    /// <summary>The top-k indices (int64) and values as tensors <c>[rows, k]</c> on <paramref name="device"/>.</summary>
    /// <exception cref="InvalidOperationException">There are no top-k targets.</exception>
    public (Tensor Indices, Tensor Values) TopKTensors(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        EnsurePrepared();
        if (_tensors is { TopKIndices: { } i, TopKValues: { } v })
        {
            return (i.to(device), v.to(device));
        }
        if (_cpu is not { Kind: TeacherTargetKinds.TopK } sparse)
        {
            throw Missing("top-k targets");
        }
        long[] shape = [sparse.Rows, sparse.TopK];
        Tensor indices = torch.tensor(sparse.TopKIndices.ToArray().Select(x => (long)x).ToArray(), shape);
        Tensor values = torch.tensor(sparse.TopKValues.ToArray(), shape);
        return device.type == DeviceType.CPU ? (indices, values) : (indices.to(device), values.to(device));
    }

    /// <summary>The top-k class indices in CPU memory, row-major <c>[rows × k]</c> (valid while the step's dispose scope lives).</summary>
    /// <exception cref="InvalidOperationException">There are no top-k targets.</exception>
    public ReadOnlySpan<int> TopKIndicesOnCpu()
    {
        EnsurePrepared();
        return _cpu is { Kind: TeacherTargetKinds.TopK } sparse ? sparse.TopKIndices.Span : TensorSpans.Of<int>(TopKTensorsOnCpu().Indices);
    }

    /// <summary>The top-k values in CPU memory, row-major <c>[rows × k]</c> (valid while the step's dispose scope lives).</summary>
    /// <exception cref="InvalidOperationException">There are no top-k targets.</exception>
    public ReadOnlySpan<float> TopKValuesOnCpu()
    {
        EnsurePrepared();
        return _cpu is { Kind: TeacherTargetKinds.TopK } sparse ? sparse.TopKValues.Span : TensorSpans.Of<float>(TopKTensorsOnCpu().Values);
    }

    private (Tensor Indices, Tensor Values) TopKTensorsOnCpu()
    {
        if (_tensors is not { TopKIndices: { } i, TopKValues: { } v })
        {
            throw Missing("top-k targets");
        }
        _topKOnCpu ??= (TensorSpans.OnCpu(i, ScalarType.Int32), TensorSpans.OnCpu(v, ScalarType.Float32));
        return _topKOnCpu.Value;
    }

    /// <summary>A named intermediate feature as a tensor on <paramref name="device"/>.</summary>
    /// <exception cref="InvalidOperationException">The teacher did not return it.</exception>
    public Tensor Feature(string name, Device device)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(device);
        EnsurePrepared();
        if (_tensors is { } t)
        {
            return t.Features.TryGetValue(name, out Tensor? f) ? (f.device == device ? f : f.to(device)) : throw Missing($"the intermediate '{name}'");
        }
        if (!_cpuFeatures.TryGetValue(name, out Float32Tensor? feature))
        {
            throw Missing($"the intermediate '{name}'");
        }
        Tensor cpu = torch.tensor(feature.Data.ToArray(), feature.Shape.Select(d => (long)d).ToArray());
        return device.type == DeviceType.CPU ? cpu : cpu.to(device);
    }

    private void EnsurePrepared()
    {
        if (_deferred is not null)
        {
            throw new InvalidOperationException("Call Prepare() inside the training step's dispose scope before reading the teacher's targets.");
        }
    }

    private static InvalidOperationException Missing(string what) => new($"The teacher's targets for this step hold no {what}.");
}
