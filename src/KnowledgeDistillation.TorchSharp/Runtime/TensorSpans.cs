using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Runtime;

/// <summary>
/// Spans over the memory of contiguous CPU tensors, so the fused kernels read and write tensor storage in place instead
/// of through managed copies. A span is valid while its tensor lives (for the trainer: the step's dispose scope).
/// </summary>
internal static class TensorSpans
{
    /// <summary>The elements of a contiguous CPU tensor of <typeparamref name="T"/>.</summary>
    /// <exception cref="ArgumentException">The tensor is not on the CPU, not contiguous, or not of that element type.</exception>
    public static Span<T> Of<T>(Tensor tensor)
        where T : unmanaged
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
        {
            throw new ArgumentException("A span needs a contiguous CPU tensor.", nameof(tensor));
        }
        if (tensor.element_size() != Marshal.SizeOf<T>())
        {
            throw new ArgumentException($"The tensor holds {tensor.dtype}, not {typeof(T).Name}.", nameof(tensor));
        }
        return tensor.numel() == 0 ? [] : MemoryMarshal.Cast<byte, T>(tensor.bytes);
    }

    /// <summary>The tensor's data as a contiguous CPU tensor of <paramref name="type"/>: itself when it already is one (no copy), else a copy.</summary>
    public static Tensor OnCpu(Tensor tensor, ScalarType type)
    {
        Tensor cpu = tensor.detach();
        if (cpu.device_type != DeviceType.CPU)
        {
            cpu = cpu.to(CPU);
        }
        if (cpu.dtype != type)
        {
            cpu = cpu.to_type(type);
        }
        return cpu.contiguous();
    }
}
