using System.Runtime.InteropServices;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>The maxima of a student and a teacher row in one pass, with the shared non-finite probe of <see cref="MaxPass"/>.</summary>
internal ref struct MaxPairPass : IRowPass
{
    private readonly ReadOnlySpan<float> _first;
    private readonly ReadOnlySpan<float> _second;

    public MaxPairPass(ReadOnlySpan<float> first, ReadOnlySpan<float> second)
    {
        _first = first;
        _second = second;
        FirstMax = float.NegativeInfinity;
        SecondMax = float.NegativeInfinity;
    }

    public float FirstMax { get; private set; }

    public float SecondMax { get; private set; }

    public float FiniteProbe { get; private set; }

    public void Run<TOps, TVec>(int start, int end)
        where TOps : ISimdOps<TVec>
        where TVec : struct
    {
        ref float x = ref MemoryMarshal.GetReference(_first);
        ref float y = ref MemoryMarshal.GetReference(_second);
        TVec firstMax = TOps.Broadcast(float.NegativeInfinity);
        TVec secondMax = firstMax;
        TVec zero = TOps.Broadcast(0f);
        TVec probe = zero;
        for (int i = start; i < end; i += TOps.Count)
        {
            TVec a = TOps.Load(ref x, i);
            TVec b = TOps.Load(ref y, i);
            firstMax = TOps.Max(firstMax, a);
            secondMax = TOps.Max(secondMax, b);
            probe = TOps.MultiplyAdd(b, zero, TOps.MultiplyAdd(a, zero, probe));
        }

        FirstMax = MathF.Max(FirstMax, TOps.HorizontalMax(firstMax));
        SecondMax = MathF.Max(SecondMax, TOps.HorizontalMax(secondMax));
        FiniteProbe += TOps.HorizontalSum(probe);
    }
}
