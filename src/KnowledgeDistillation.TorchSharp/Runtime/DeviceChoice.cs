using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Runtime;

/// <summary>A device request parsed from text (<c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>), resolved against the visible GPUs.</summary>
/// <param name="Kind">What was asked for.</param>
/// <param name="Index">The CUDA device index (0 when not given).</param>
public readonly record struct DeviceChoice(DeviceChoiceKind Kind, int Index)
{
    /// <summary>Parses a device name, case-insensitively.</summary>
    /// <exception cref="ArgumentException">The text is not one of the accepted forms.</exception>
    public static DeviceChoice Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        string t = text.Trim().ToLowerInvariant();
        if (t == "auto")
        {
            return new DeviceChoice(DeviceChoiceKind.Auto, 0);
        }
        if (t == "cpu")
        {
            return new DeviceChoice(DeviceChoiceKind.Cpu, 0);
        }
        if (t == "cuda")
        {
            return new DeviceChoice(DeviceChoiceKind.Cuda, 0);
        }
        if (t.StartsWith("cuda:", StringComparison.Ordinal) &&
            int.TryParse(t.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index))
        {
            return new DeviceChoice(DeviceChoiceKind.Cuda, index);
        }
        throw new ArgumentException($"Unknown device '{text}'. Use 'auto', 'cpu', 'cuda' or 'cuda:N'.", nameof(text));
    }

    /// <summary>Resolves the request given how many CUDA devices are visible.</summary>
    /// <exception cref="ArgumentException">CUDA was requested but no such device is visible.</exception>
    public Device Resolve(int cudaDeviceCount)
    {
        switch (Kind)
        {
            case DeviceChoiceKind.Cpu:
                return CPU;
            case DeviceChoiceKind.Auto:
                return cudaDeviceCount > 0 ? new Device(DeviceType.CUDA, 0) : CPU;
            default:
                if (Index >= cudaDeviceCount)
                {
                    throw new ArgumentException(
                        cudaDeviceCount == 0
                            ? $"Device 'cuda:{Index}' was requested but CUDA is not available (no CUDA build of libtorch loaded, or no GPU). Use 'cpu' or 'auto'."
                            : $"Device 'cuda:{Index}' was requested but only {cudaDeviceCount} CUDA device(s) are visible (0..{cudaDeviceCount - 1}).",
                        "device");
                }
                return new Device(DeviceType.CUDA, Index);
        }
    }
}

/// <summary>The kind of device asked for.</summary>
public enum DeviceChoiceKind
{
    /// <summary>CUDA device 0 when available, else the CPU.</summary>
    Auto,

    /// <summary>The CPU.</summary>
    Cpu,

    /// <summary>A CUDA device.</summary>
    Cuda,
}
