using System.Runtime.InteropServices;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>
/// Finishes the forward-KL gradient in place when the sums pass already stored e^b in it:
/// g = ks·g - kt·exp((t - mt)/T), the same value as <see cref="ProbabilityDifferencePass"/> with one exp fewer.
/// </summary>
internal ref struct FinishProbabilityDifferencePass : IRowPass
{
    private readonly ReadOnlySpan<float> _teacher;
    private readonly Span<float> _gradient;
    private readonly float _inverseTemperature;
    private readonly float _teacherMax;
    private readonly float _studentFactor;
    private readonly float _teacherFactor;

    public FinishProbabilityDifferencePass(ReadOnlySpan<float> teacher, Span<float> gradient, float inverseTemperature, float teacherMax, float studentFactor, float teacherFactor)
    {
        _teacher = teacher;
        _gradient = gradient;
        _inverseTemperature = inverseTemperature;
        _teacherMax = teacherMax;
        _studentFactor = studentFactor;
        _teacherFactor = teacherFactor;
    }

    public readonly void Run<TOps, TVec>(int start, int end)
        where TOps : ISimdOps<TVec>
        where TVec : struct
    {
        ref float t = ref MemoryMarshal.GetReference(_teacher);
        ref float g = ref MemoryMarshal.GetReference(_gradient);
        TVec inverseTemperature = TOps.Broadcast(_inverseTemperature);
        TVec teacherMax = TOps.Broadcast(_teacherMax);
        TVec studentFactor = TOps.Broadcast(_studentFactor);
        TVec negativeTeacherFactor = TOps.Broadcast(-_teacherFactor);
        for (int i = start; i < end; i += TOps.Count)
        {
            TVec et = TOps.Exp(TOps.Multiply(TOps.Subtract(TOps.Load(ref t, i), teacherMax), inverseTemperature));
            TOps.Store(TOps.MultiplyAdd(TOps.Load(ref g, i), studentFactor, TOps.Multiply(et, negativeTeacherFactor)), ref g, i);
        }
    }
}
