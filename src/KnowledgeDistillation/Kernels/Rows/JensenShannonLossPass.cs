using System.Runtime.InteropServices;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>
/// Generalised JSD(β) over a row, from normalised log-probabilities ls = (s - ms)/T + cs, lt = (t - mt)/T + ct:
/// log M = logaddexp(ls + log(1-β), lt + log β) (log space, as TRL's GKD builds it),
/// Loss = Σ β p_t (lt - log M) + (1-β) p_s (ls - log M) and Centre = Σ p_s (ls - log M).
/// When a scratch row is given it receives p_s (ls - log M), which the gradient pass finishes.
/// </summary>
internal ref struct JensenShannonLossPass : IRowPass
{
    private readonly ReadOnlySpan<float> _student;
    private readonly ReadOnlySpan<float> _teacher;
    private readonly Span<float> _scratch;
    private readonly float _inverseTemperature;
    private readonly float _studentShift;
    private readonly float _teacherShift;
    private readonly float _studentOffset;
    private readonly float _teacherOffset;
    private readonly float _beta;
    private readonly float _logBeta;
    private readonly float _logOneMinusBeta;

    public JensenShannonLossPass(
        ReadOnlySpan<float> student, ReadOnlySpan<float> teacher, Span<float> scratch, float inverseTemperature,
        float studentShift, float teacherShift, float studentOffset, float teacherOffset, float beta)
    {
        _student = student;
        _teacher = teacher;
        _scratch = scratch;
        _inverseTemperature = inverseTemperature;
        _studentShift = studentShift;
        _teacherShift = teacherShift;
        _studentOffset = studentOffset;
        _teacherOffset = teacherOffset;
        _beta = beta;
        _logBeta = MathF.Log(beta);
        _logOneMinusBeta = MathF.Log(1f - beta);
    }

    public double Loss { get; private set; }

    public double Centre { get; private set; }

    public void Run<TOps, TVec>(int start, int end)
        where TOps : ISimdOps<TVec>
        where TVec : struct
    {
        ref float s = ref MemoryMarshal.GetReference(_student);
        ref float t = ref MemoryMarshal.GetReference(_teacher);
        ref float scratch = ref MemoryMarshal.GetReference(_scratch);
        bool writeScratch = !_scratch.IsEmpty;
        TVec inverseTemperature = TOps.Broadcast(_inverseTemperature);
        TVec studentShift = TOps.Broadcast(_studentShift);
        TVec teacherShift = TOps.Broadcast(_teacherShift);
        TVec studentOffset = TOps.Broadcast(_studentOffset);
        TVec teacherOffset = TOps.Broadcast(_teacherOffset);
        TVec beta = TOps.Broadcast(_beta);
        TVec oneMinusBeta = TOps.Broadcast(1f - _beta);
        TVec logBeta = TOps.Broadcast(_logBeta);
        TVec logOneMinusBeta = TOps.Broadcast(_logOneMinusBeta);
        TVec one = TOps.Broadcast(1f);
        TVec zero = TOps.Broadcast(0f);
        TVec loss = zero, centre = zero;
        double lossTotal = Loss, centreTotal = Centre;
        int sinceFlush = 0;
        for (int i = start; i < end; i += TOps.Count)
        {
            TVec ls = TOps.MultiplyAdd(TOps.Subtract(TOps.Load(ref s, i), studentShift), inverseTemperature, studentOffset);
            TVec lt = TOps.MultiplyAdd(TOps.Subtract(TOps.Load(ref t, i), teacherShift), inverseTemperature, teacherOffset);
            TVec x = TOps.Add(ls, logOneMinusBeta);
            TVec y = TOps.Add(lt, logBeta);
            TVec difference = TOps.Subtract(x, y);
            TVec absolute = TOps.Max(difference, TOps.Subtract(zero, difference));
            TVec logMixture = TOps.Add(TOps.Max(x, y), TOps.Log(TOps.Add(one, TOps.Exp(TOps.Subtract(zero, absolute)))));
            TVec ps = TOps.Exp(ls);
            TVec pt = TOps.Exp(lt);
            TVec studentTerm = TOps.Multiply(ps, TOps.Subtract(ls, logMixture));
            TVec teacherTerm = TOps.Multiply(pt, TOps.Subtract(lt, logMixture));
            loss = TOps.MultiplyAdd(beta, teacherTerm, TOps.MultiplyAdd(oneMinusBeta, studentTerm, loss));
            centre = TOps.Add(centre, studentTerm);
            if (writeScratch)
            {
                TOps.Store(studentTerm, ref scratch, i);
            }

            if (++sinceFlush == RowPassRunner.FlushInterval)
            {
                lossTotal += TOps.HorizontalSum(loss);
                centreTotal += TOps.HorizontalSum(centre);
                loss = zero;
                centre = zero;
                sinceFlush = 0;
            }
        }

        Loss = lossTotal + TOps.HorizontalSum(loss);
        Centre = centreTotal + TOps.HorizontalSum(centre);
    }
}
