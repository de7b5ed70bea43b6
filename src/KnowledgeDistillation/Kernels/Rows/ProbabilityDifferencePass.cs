using System.Runtime.InteropServices;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>
/// Writes g = ks·exp((s - ms)/T) - kt·exp((t - mt)/T) [+ ku·exp(s - ms)]: the gradient of forward KL / soft CE
/// (ks = scale/Z_s, kt = scale/Z_t), with the optional unit-temperature student term of the Hinton objective.
/// </summary>
internal ref struct ProbabilityDifferencePass : IRowPass
{
    private readonly ReadOnlySpan<float> _student;
    private readonly ReadOnlySpan<float> _teacher;
    private readonly Span<float> _gradient;
    private readonly float _inverseTemperature;
    private readonly float _studentOffset;
    private readonly float _teacherOffset;
    private readonly float _studentFactor;
    private readonly float _teacherFactor;
    private readonly float _unitOffset;
    private readonly float _unitFactor;
    private readonly bool _withUnitTerm;

    public ProbabilityDifferencePass(
        ReadOnlySpan<float> student, ReadOnlySpan<float> teacher, Span<float> gradient, float inverseTemperature,
        float studentOffset, float teacherOffset, float studentFactor, float teacherFactor,
        float unitOffset = 0f, float unitFactor = 0f)
    {
        _student = student;
        _teacher = teacher;
        _gradient = gradient;
        _inverseTemperature = inverseTemperature;
        _studentOffset = studentOffset;
        _teacherOffset = teacherOffset;
        _studentFactor = studentFactor;
        _teacherFactor = teacherFactor;
        _unitOffset = unitOffset;
        _unitFactor = unitFactor;
        _withUnitTerm = unitFactor != 0f;
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
        TVec studentFactor = TOps.Broadcast(_studentFactor);
        TVec negativeTeacherFactor = TOps.Broadcast(-_teacherFactor);
        if (_withUnitTerm)
        {
            TVec unitOffset = TOps.Broadcast(_unitOffset);
            TVec unitFactor = TOps.Broadcast(_unitFactor);
            for (int i = start; i < end; i += TOps.Count)
            {
                TVec sv = TOps.Load(ref s, i);
                TVec es = TOps.Exp(TOps.Multiply(TOps.Subtract(sv, studentOffset), inverseTemperature));
                TVec et = TOps.Exp(TOps.Multiply(TOps.Subtract(TOps.Load(ref t, i), teacherOffset), inverseTemperature));
                TVec eu = TOps.Exp(TOps.Subtract(sv, unitOffset));
                TVec value = TOps.MultiplyAdd(es, studentFactor, TOps.Multiply(et, negativeTeacherFactor));
                TOps.Store(TOps.MultiplyAdd(eu, unitFactor, value), ref g, i);
            }

            return;
        }

        for (int i = start; i < end; i += TOps.Count)
        {
            TVec es = TOps.Exp(TOps.Multiply(TOps.Subtract(TOps.Load(ref s, i), studentOffset), inverseTemperature));
            TVec et = TOps.Exp(TOps.Multiply(TOps.Subtract(TOps.Load(ref t, i), teacherOffset), inverseTemperature));
            TOps.Store(TOps.MultiplyAdd(es, studentFactor, TOps.Multiply(et, negativeTeacherFactor)), ref g, i);
        }
    }
}
