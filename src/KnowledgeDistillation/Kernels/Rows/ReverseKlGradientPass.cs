using System.Runtime.InteropServices;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>
/// Reverse KL gradient: g = k·e^b·((b - a) + c) with b, a the shifted student and teacher logits at temperature T,
/// k = scale/Z_s and c = -Σ p_s (b - a), so that g = scale·p_s·(d - E_ps[d]) with d = log p_s - log p_t.
/// </summary>
internal ref struct ReverseKlGradientPass : IRowPass
{
    private readonly ReadOnlySpan<float> _student;
    private readonly ReadOnlySpan<float> _teacher;
    private readonly Span<float> _gradient;
    private readonly float _inverseTemperature;
    private readonly float _studentOffset;
    private readonly float _teacherOffset;
    private readonly float _factor;
    private readonly float _centre;

    public ReverseKlGradientPass(
        ReadOnlySpan<float> student, ReadOnlySpan<float> teacher, Span<float> gradient, float inverseTemperature,
        float studentOffset, float teacherOffset, float factor, float centre)
    {
        _student = student;
        _teacher = teacher;
        _gradient = gradient;
        _inverseTemperature = inverseTemperature;
        _studentOffset = studentOffset;
        _teacherOffset = teacherOffset;
        _factor = factor;
        _centre = centre;
    }

    public readonly void Run<TOps, TVec>(int start, int end)
        where TOps : ISimdOps<TVec>
        where TVec : struct
    {
        ref float s = ref MemoryMarshal.GetReference(_student);
        ref float t = ref MemoryMarshal.GetReference(_teacher);
        ref float g = ref MemoryMarshal.GetReference(_gradient);
        TVec inverseTemperature = TOps.Broadcast(_inverseTemperature);
        TVec studentOffset = TOps.Broadcast(_studentOffset);
        TVec teacherOffset = TOps.Broadcast(_teacherOffset);
        TVec factor = TOps.Broadcast(_factor);
        TVec centre = TOps.Broadcast(_centre);
        for (int i = start; i < end; i += TOps.Count)
        {
            TVec b = TOps.Multiply(TOps.Subtract(TOps.Load(ref s, i), studentOffset), inverseTemperature);
            TVec a = TOps.Multiply(TOps.Subtract(TOps.Load(ref t, i), teacherOffset), inverseTemperature);
            TVec weight = TOps.Multiply(TOps.Exp(b), factor);
            TOps.Store(TOps.Multiply(weight, TOps.Add(TOps.Subtract(b, a), centre)), ref g, i);
        }
    }
}
