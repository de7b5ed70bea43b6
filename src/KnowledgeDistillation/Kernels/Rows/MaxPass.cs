using System.Runtime.InteropServices;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>Row maximum, plus a probe that is non-finite exactly when some element is NaN or ±Inf (x·0 is NaN then).</summary>
internal ref struct MaxPass : IRowPass
{
    private readonly ReadOnlySpan<float> _values;

    public MaxPass(ReadOnlySpan<float> values)
    {
        _values = values;
        Max = float.NegativeInfinity;
    }

    public float Max { get; private set; }

    public float FiniteProbe { get; private set; }

    public void Run<TOps, TVec>(int start, int end)
        where TOps : ISimdOps<TVec>
        where TVec : struct
    {
        ref float x = ref MemoryMarshal.GetReference(_values);
        TVec max = TOps.Broadcast(float.NegativeInfinity);
        TVec probe = TOps.Broadcast(0f);
        TVec zero = TOps.Broadcast(0f);
        for (int i = start; i < end; i += TOps.Count)
        {
            TVec v = TOps.Load(ref x, i);
            max = TOps.Max(max, v);
            probe = TOps.MultiplyAdd(v, zero, probe);
        }

        Max = MathF.Max(Max, TOps.HorizontalMax(max));
        FiniteProbe += TOps.HorizontalSum(probe);
    }
}
