using Microsoft.ML.OnnxRuntime;

namespace KnowledgeDistillation.Onnx.Runtime;

/// <summary>Reports the loaded ONNX Runtime's version and execution providers.</summary>
public static class OnnxRuntimeInfo
{
    /// <summary>The native ONNX Runtime version (loads the native library).</summary>
    /// <exception cref="InvalidOperationException">The native library could not be loaded; the message says what to reference.</exception>
    public static string Version => Guard(() => OrtEnv.Instance().GetVersionString());

    /// <summary>The execution providers compiled into the loaded native library (for example CPUExecutionProvider).</summary>
    public static IReadOnlyList<string> ExecutionProviders => Guard(() => OrtEnv.Instance().GetAvailableProviders());

    private static T Guard<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
        {
            throw new InvalidOperationException(
                "ONNX Runtime's native library could not be loaded. Reference 'Microsoft.ML.OnnxRuntime' (CPU) or " +
                "'Microsoft.ML.OnnxRuntime.Gpu' in your application. Inner error: " + ex.Message, ex);
        }
    }
}
