using System.Runtime.InteropServices;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>
/// The fused forward pass over a (reference, other) pair of rows at one temperature, with a = (r - max_r)/T and
/// b = (o - max_o)/T: Z_r = Σ e^a, Z_o = Σ e^b, Cross = Σ e^a (a - b) and ReferenceDotOther = Σ e^a b.
/// KL(reference || other) = Cross / Z_r - log Z_r + log Z_o; CE(reference, other) = log Z_o - ReferenceDotOther / Z_r.
/// When given destinations it also stores e^b and e^a there, so a gradient pass needs no exp at all.
/// </summary>
internal ref struct PairSumsPass : IRowPass
{
    private readonly ReadOnlySpan<float> _reference;
    private readonly ReadOnlySpan<float> _other;
    private readonly float _inverseTemperature;
    private readonly float _referenceOffset;
    private readonly float _otherOffset;
    private readonly Span<float> _otherExponentials;
    private readonly Span<float> _referenceExponentials;

    public PairSumsPass(
        ReadOnlySpan<float> reference, ReadOnlySpan<float> other, float inverseTemperature, float referenceOffset, float otherOffset,
        Span<float> otherExponentials = default, Span<float> referenceExponentials = default)
    {
        _otherExponentials = otherExponentials;
        _referenceExponentials = referenceExponentials;
        _reference = reference;
        _other = other;
        _inverseTemperature = inverseTemperature;
        _referenceOffset = referenceOffset;
        _otherOffset = otherOffset;
    }

    public double ReferenceSum { get; private set; }

    public double OtherSum { get; private set; }

    public double Cross { get; private set; }

    public double ReferenceDotOther { get; private set; }

    public void Run<TOps, TVec>(int start, int end)
        where TOps : ISimdOps<TVec>
        where TVec : struct
    {
        ref float r = ref MemoryMarshal.GetReference(_reference);
        ref float o = ref MemoryMarshal.GetReference(_other);
        ref float store = ref MemoryMarshal.GetReference(_otherExponentials);
        ref float storeReference = ref MemoryMarshal.GetReference(_referenceExponentials);
        bool storeExponentials = !_otherExponentials.IsEmpty;
        bool storeReferenceExponentials = !_referenceExponentials.IsEmpty;
        TVec inverseTemperature = TOps.Broadcast(_inverseTemperature);
        TVec referenceOffset = TOps.Broadcast(_referenceOffset);
        TVec otherOffset = TOps.Broadcast(_otherOffset);
        TVec zero = TOps.Broadcast(0f);
        TVec referenceSum = zero, otherSum = zero, cross = zero, dot = zero;
        double referenceTotal = ReferenceSum, otherTotal = OtherSum, crossTotal = Cross, dotTotal = ReferenceDotOther;
        int sinceFlush = 0;
        for (int i = start; i < end; i += TOps.Count)
        {
            TVec a = TOps.Multiply(TOps.Subtract(TOps.Load(ref r, i), referenceOffset), inverseTemperature);
            TVec b = TOps.Multiply(TOps.Subtract(TOps.Load(ref o, i), otherOffset), inverseTemperature);
            TVec ea = TOps.Exp(a);
            referenceSum = TOps.Add(referenceSum, ea);
            if (storeReferenceExponentials)
            {
                TOps.Store(ea, ref storeReference, i);
            }

            TVec eb = TOps.Exp(b);
            otherSum = TOps.Add(otherSum, eb);
            if (storeExponentials)
            {
                TOps.Store(eb, ref store, i);
            }

            cross = TOps.MultiplyAdd(ea, TOps.Subtract(a, b), cross);
            dot = TOps.MultiplyAdd(ea, b, dot);
            if (++sinceFlush == RowPassRunner.FlushInterval)
            {
                referenceTotal += TOps.HorizontalSum(referenceSum);
                otherTotal += TOps.HorizontalSum(otherSum);
                crossTotal += TOps.HorizontalSum(cross);
                dotTotal += TOps.HorizontalSum(dot);
                referenceSum = zero;
                otherSum = zero;
                cross = zero;
                dot = zero;
                sinceFlush = 0;
            }
        }

        ReferenceSum = referenceTotal + TOps.HorizontalSum(referenceSum);
        OtherSum = otherTotal + TOps.HorizontalSum(otherSum);
        Cross = crossTotal + TOps.HorizontalSum(cross);
        ReferenceDotOther = dotTotal + TOps.HorizontalSum(dot);
    }
}
