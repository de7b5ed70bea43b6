using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>Runs a pass with the widest accelerated vectors, then narrower ones, then scalar code for the last elements.</summary>
internal static class RowPassRunner
{
    /// <summary>Vector accumulators are folded into double every this many vectors, so long rows keep float accuracy.</summary>
    internal const int FlushInterval = 64;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Run<TPass>(ref TPass pass, int length)
        where TPass : IRowPass, allows ref struct
    {
        int done = 0;
        if (Vector512.IsHardwareAccelerated && length >= Vector512<float>.Count)
        {
            int end = length & ~(Vector512<float>.Count - 1);
            pass.Run<Vector512Ops, Vector512<float>>(0, end);
            done = end;
        }

        if (Vector256.IsHardwareAccelerated && length - done >= Vector256<float>.Count)
        {
            int end = done + ((length - done) & ~(Vector256<float>.Count - 1));
            pass.Run<Vector256Ops, Vector256<float>>(done, end);
            done = end;
        }

        if (Vector128.IsHardwareAccelerated && length - done >= Vector128<float>.Count)
        {
            int end = done + ((length - done) & ~(Vector128<float>.Count - 1));
            pass.Run<Vector128Ops, Vector128<float>>(done, end);
            done = end;
        }

        if (done < length)
        {
            pass.Run<ScalarOps, float>(done, length);
        }
    }
}
