using System.Runtime.InteropServices;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>Finishes the JSD gradient in place: g = k·(p_s h - Centre·p_s), where the scratch already holds p_s h.</summary>
internal ref struct JensenShannonGradientPass : IRowPass
{
    private readonly ReadOnlySpan<float> _student;
    private readonly Span<float> _gradient;
    private readonly float _inverseTemperature;
    private readonly float _studentShift;
    private readonly float _studentOffset;
    private readonly float _factor;
    private readonly float _centre;

    public JensenShannonGradientPass(ReadOnlySpan<float> student, Span<float> gradient, float inverseTemperature, float studentShift, float studentOffset, float factor, float centre)
    {
        _student = student;
        _gradient = gradient;
        _inverseTemperature = inverseTemperature;
        _studentShift = studentShift;
        _studentOffset = studentOffset;
        _factor = factor;
        _centre = centre;
    }

    public readonly void Run<TOps, TVec>(int start, int end)
        where TOps : ISimdOps<TVec>
        where TVec : struct
    {
        ref float s = ref MemoryMarshal.GetReference(_student);
        ref float g = ref MemoryMarshal.GetReference(_gradient);
        TVec inverseTemperature = TOps.Broadcast(_inverseTemperature);
        TVec studentShift = TOps.Broadcast(_studentShift);
        TVec studentOffset = TOps.Broadcast(_studentOffset);
        TVec factor = TOps.Broadcast(_factor);
        TVec negativeCentre = TOps.Broadcast(-_centre);
        for (int i = start; i < end; i += TOps.Count)
        {
            TVec ps = TOps.Exp(TOps.MultiplyAdd(TOps.Subtract(TOps.Load(ref s, i), studentShift), inverseTemperature, studentOffset));
            TVec value = TOps.MultiplyAdd(ps, negativeCentre, TOps.Load(ref g, i));
            TOps.Store(TOps.Multiply(value, factor), ref g, i);
        }
    }
}
