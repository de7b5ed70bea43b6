using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Runtime;

/// <summary>Loads libtorch through TorchSharp with an actionable error, and reports versions and devices.</summary>
public static class TorchSharpRuntime
{
    private static readonly Lock InitLock = new();
    private static bool _initialized;

    /// <summary>The TorchSharp managed package version.</summary>
    public static string TorchSharpVersion => LibraryInfo.GetInformationalVersion(typeof(torch).Assembly);

    /// <summary>The libtorch version TorchSharp reports (loads the native library).</summary>
    public static string LibTorchVersion
    {
        get
        {
            EnsureInitialized();
            return torch.__version__;
        }
    }

    /// <summary>True when a CUDA build of libtorch is loaded and a GPU is visible.</summary>
    public static bool CudaAvailable
    {
        get
        {
            EnsureInitialized();
            return cuda.is_available();
        }
    }

    /// <summary>Number of visible CUDA devices (0 without a CUDA build or GPU).</summary>
    public static int CudaDeviceCount
    {
        get
        {
            EnsureInitialized();
            return cuda.is_available() ? cuda.device_count() : 0;
        }
    }

    /// <summary>
    /// Loads the native libraries once. Throws <see cref="InvalidOperationException"/> with what to do when they cannot load.
    /// </summary>
    public static void EnsureInitialized()
    {
        if (Volatile.Read(ref _initialized))
        {
            return;
        }
        lock (InitLock)
        {
            if (_initialized)
            {
                return;
            }
            try
            {
                InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                throw new InvalidOperationException(
                    "TorchSharp could not load libtorch. Reference a native package in your application " +
                    "(for example 'libtorch-cpu-linux-x64' or 'TorchSharp-cpu'; a CUDA build for GPUs). On Debian 12 or " +
                    "Ubuntu 22.04 the system libstdc++ is too old for libLibTorchSharp.so: build through MSBuild so the " +
                    "KnowledgeDistillation.TorchSharp build step patches the copy in your output folder. " +
                    "See docs/troubleshooting.md. Inner error: " + ex.Message, ex);
            }
            Volatile.Write(ref _initialized, true);
        }
    }

    /// <summary>
    /// Parses a device name: <c>auto</c> (CUDA when available, else CPU), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not recognised, or CUDA was asked for but is unavailable.</exception>
    public static Device ResolveDevice(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        DeviceChoice choice = DeviceChoice.Parse(name);
        EnsureInitialized();
        return choice.Resolve(CudaDeviceCount);
    }
}
