using System.Runtime.InteropServices;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>
/// Finishes the forward-KL gradient in place when the sums pass already stored e^b in it and e^a in
/// <c>teacherExponentials</c>: g = ks·g - kt·e^a, the same value as <see cref="ProbabilityDifferencePass"/> with no exp
/// (the exps are the sums pass's own, bit for bit).
/// </summary>
internal ref struct FinishProbabilityDifferencePass : IRowPass
{
    private readonly ReadOnlySpan<float> _teacherExponentials;
    private readonly Span<float> _gradient;
    private readonly float _studentFactor;
    private readonly float _teacherFactor;

    public FinishProbabilityDifferencePass(ReadOnlySpan<float> teacherExponentials, Span<float> gradient, float studentFactor, float teacherFactor)
    {
        _teacherExponentials = teacherExponentials;
        _gradient = gradient;
        _studentFactor = studentFactor;
        _teacherFactor = teacherFactor;
    }

    public readonly void Run<TOps, TVec>(int start, int end)
        where TOps : ISimdOps<TVec>
        where TVec : struct
    {
        ref float t = ref MemoryMarshal.GetReference(_teacherExponentials);
        ref float g = ref MemoryMarshal.GetReference(_gradient);
        TVec studentFactor = TOps.Broadcast(_studentFactor);
        TVec negativeTeacherFactor = TOps.Broadcast(-_teacherFactor);
        for (int i = start; i < end; i += TOps.Count)
        {
            TVec et = TOps.Load(ref t, i);
            TOps.Store(TOps.MultiplyAdd(TOps.Load(ref g, i), studentFactor, TOps.Multiply(et, negativeTeacherFactor)), ref g, i);
        }
    }
}
