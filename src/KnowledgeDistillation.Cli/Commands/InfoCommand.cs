using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Onnx.Runtime;
using KnowledgeDistillation.TorchSharp.Runtime;

namespace KnowledgeDistillation.Cli.Commands;

/// <summary><c>kd info</c>: versions, devices and SIMD widths.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the information as JSON." };
        var command = new Command("info", "Print the library, TorchSharp/libtorch and ONNX Runtime versions, CUDA availability, execution providers and the SIMD widths the CPU kernels use.")
        {
            json,
        };
        command.SetAction(parse => Run(parse.GetValue(json)));
        return command;
    }

    private static int Run(bool asJson)
    {
        var info = Collect();
        if (asJson)
        {
            Console.WriteLine(JsonSerializer.Serialize(info, CliJsonContext.Default.EnvironmentInfo));
            return 0;
        }
        Console.WriteLine($"KnowledgeDistillation {info.LibraryVersion}");
        Console.WriteLine($"  .NET runtime         {info.Runtime} on {info.Os} ({info.Architecture}), {info.ProcessorCount} logical cores");
        Console.WriteLine($"  TorchSharp           {info.TorchSharpVersion}");
        Console.WriteLine($"  libtorch             {info.LibTorchVersion}");
        Console.WriteLine($"  CUDA available       {(info.CudaAvailable ? $"yes ({info.CudaDeviceCount} device(s))" : "no")}");
        Console.WriteLine($"  ONNX Runtime         {info.OnnxRuntimeVersion}");
        Console.WriteLine($"  ONNX providers       {string.Join(", ", info.OnnxExecutionProviders)}");
        Console.WriteLine($"  CPU kernels SIMD     {KernelCapabilities.Describe()}");
        return info.Errors.Count == 0 ? 0 : 1;
    }

    internal static EnvironmentInfo Collect()
    {
        var errors = new List<string>();
        string libTorch = "unavailable", torchSharp = TorchSharpRuntime.TorchSharpVersion, ort = "unavailable";
        bool cuda = false;
        int cudaCount = 0;
        IReadOnlyList<string> providers = [];
        try
        {
            libTorch = TorchSharpRuntime.LibTorchVersion;
            cuda = TorchSharpRuntime.CudaAvailable;
            cudaCount = TorchSharpRuntime.CudaDeviceCount;
        }
        catch (InvalidOperationException ex)
        {
            errors.Add(ex.Message);
            libTorch = "unavailable: " + ex.Message;
        }
        try
        {
            ort = OnnxRuntimeInfo.Version;
            providers = OnnxRuntimeInfo.ExecutionProviders;
        }
        catch (InvalidOperationException ex)
        {
            errors.Add(ex.Message);
            ort = "unavailable: " + ex.Message;
        }
        return new EnvironmentInfo(
            LibraryInfo.Version,
            RuntimeInformation.FrameworkDescription,
            RuntimeInformation.OSDescription,
            RuntimeInformation.ProcessArchitecture.ToString(),
            Environment.ProcessorCount,
            torchSharp,
            libTorch,
            cuda,
            cudaCount,
            ort,
            providers,
            KernelCapabilities.Vector128Accelerated,
            KernelCapabilities.Vector256Accelerated,
            KernelCapabilities.Vector512Accelerated,
            KernelCapabilities.PreferredVectorBits,
            errors);
    }
}

internal sealed record EnvironmentInfo(
    string LibraryVersion,
    string Runtime,
    string Os,
    string Architecture,
    int ProcessorCount,
    string TorchSharpVersion,
    string LibTorchVersion,
    bool CudaAvailable,
    int CudaDeviceCount,
    string OnnxRuntimeVersion,
    IReadOnlyList<string> OnnxExecutionProviders,
    bool Vector128,
    bool Vector256,
    bool Vector512,
    int PreferredVectorBits,
    IReadOnlyList<string> Errors);
