using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Optimizers;

/// <summary>
/// Base of this library's optimizers. Why not <c>torch.optim</c>: TorchSharp 0.107's optimizers pass temporary
/// <see cref="Scalar"/> objects (created by implicit conversion from <c>double</c>) to native calls without keeping them
/// alive; under GC pressure the finalizer can free a Scalar during the call, and libtorch then fails with
/// "Expected false to be true" from <c>Scalar::toFloat</c> (measured here: 165 failed AdamW steps in 20,000 with a
/// collecting thread). Every Scalar here is created explicitly and disposed only after its last native use, and alpha is
/// always passed (TorchSharp's <c>add_(x)</c> overloads create a hidden temporary <c>1</c>; see <c>TorchScalars</c>).
/// </summary>
public abstract class StableOptimizer : IStepOptimizer
{
    private bool _disposed;

    /// <summary>Takes the parameters to optimise (materialised once, so their handles are stable).</summary>
    protected StableOptimizer(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = parameters.ToArray();
        if (Parameters.Count == 0)
        {
            throw new ArgumentException("The optimizer has no parameters to optimise.", nameof(parameters));
        }
    }

    /// <summary>The optimised parameters.</summary>
    protected IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Completed steps.</summary>
    public long StepCount { get; protected set; }

    /// <inheritdoc />
    public abstract string Name { get; }

    /// <summary>The per-parameter state tensors, in a fixed order (saved and loaded as is).</summary>
    protected abstract IReadOnlyList<Tensor> StateTensors { get; }

    /// <inheritdoc />
    public void Step(double learningRate)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!(learningRate >= 0) || !double.IsFinite(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be finite and non-negative.");
        }
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        StepCount++;
        Update(learningRate);
    }

    /// <summary>Applies the update (under no_grad, inside a dispose scope).</summary>
    protected abstract void Update(double learningRate);

    /// <inheritdoc />
    public void ZeroGrad()
    {
        // In-place ops hand back new tensor wrappers: collect them in a scope so none outlives the call.
        using var scope = torch.NewDisposeScope();
        foreach (Parameter p in Parameters)
        {
            using Tensor? grad = p.grad;
            grad?.zero_();
        }
    }

    /// <inheritdoc />
    public void SaveState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(Name);
        writer.Write(StepCount);
        writer.Write(StateTensors.Count);
        foreach (Tensor t in StateTensors)
        {
            // Plain float32 values with their shape: simple to validate on load, independent of TorchSharp's format.
            writer.Write(t.shape.Length);
            foreach (long d in t.shape)
            {
                writer.Write(d);
            }
            using Tensor cpu = t.detach().to(CPU).to_type(ScalarType.Float32).contiguous();
            writer.Write(MemoryMarshal.AsBytes(cpu.data<float>().ToArray().AsSpan()));
        }
    }

    /// <inheritdoc />
    public void LoadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        try
        {
            string name = reader.ReadString();
            if (name != Name)
            {
                throw new InvalidDataException($"The optimizer state is for '{name}', not '{Name}'.");
            }
            long steps = reader.ReadInt64();
            int count = reader.ReadInt32();
            if (count != StateTensors.Count)
            {
                throw new InvalidDataException($"The optimizer state holds {count} tensors; this {Name} has {StateTensors.Count}.");
            }
            // Read everything first, so a failure leaves the current state untouched.
            var values = new float[count][];
            for (int i = 0; i < count; i++)
            {
                long[] shape = new long[reader.ReadInt32()];
                for (int d = 0; d < shape.Length; d++)
                {
                    shape[d] = reader.ReadInt64();
                }
                if (!shape.SequenceEqual(StateTensors[i].shape))
                {
                    throw new InvalidDataException($"Optimizer state tensor {i} has shape [{string.Join(", ", shape)}], expected [{string.Join(", ", StateTensors[i].shape)}].");
                }
                values[i] = new float[StateTensors[i].numel()];
                byte[] bytes = reader.ReadBytes(values[i].Length * sizeof(float));
                if (bytes.Length != values[i].Length * sizeof(float))
                {
                    throw new EndOfStreamException();
                }
                bytes.CopyTo(MemoryMarshal.AsBytes(values[i].AsSpan()));
            }
            using var noGrad = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            for (int i = 0; i < count; i++)
            {
                StateTensors[i].copy_(torch.tensor(values[i], StateTensors[i].shape).to(StateTensors[i].device));
            }
            StepCount = steps;
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException($"The {Name} optimizer state is truncated.", ex);
        }
    }

    /// <summary>A state tensor of zeros shaped like <paramref name="parameter"/>, owned by the optimizer (not by any dispose scope).</summary>
    protected static Tensor ZerosLike(Parameter parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        using var noGrad = torch.no_grad();
        return torch.zeros_like(parameter).DetachFromDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            foreach (Tensor t in StateTensors)
            {
                t.Dispose();
            }
        }
        GC.SuppressFinalize(this);
    }
}
