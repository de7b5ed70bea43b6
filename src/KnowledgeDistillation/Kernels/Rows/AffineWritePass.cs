using System.Runtime.InteropServices;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>Writes y = (x − shift)·scale + offset (log-softmax), or y = factor·exp((x − shift)·scale + offset) (softmax) when exponentiating.</summary>
internal ref struct AffineWritePass : IRowPass
{
    private readonly ReadOnlySpan<float> _source;
    private readonly Span<float> _destination;
    private readonly float _shift;
    private readonly float _scale;
    private readonly float _offset;
    private readonly float _factor;
    private readonly bool _exponentiate;

    public AffineWritePass(ReadOnlySpan<float> source, Span<float> destination, float shift, float scale, float offset, bool exponentiate, float factor = 1f)
    {
        _source = source;
        _destination = destination;
        _shift = shift;
        _scale = scale;
        _offset = offset;
        _exponentiate = exponentiate;
        _factor = factor;
    }

    public readonly void Run<TOps, TVec>(int start, int end)
        where TOps : ISimdOps<TVec>
        where TVec : struct
    {
        ref float x = ref MemoryMarshal.GetReference(_source);
        ref float y = ref MemoryMarshal.GetReference(_destination);
        TVec shift = TOps.Broadcast(_shift);
        TVec scale = TOps.Broadcast(_scale);
        TVec offset = TOps.Broadcast(_offset);
        if (_exponentiate)
        {
            TVec factor = TOps.Broadcast(_factor);
            for (int i = start; i < end; i += TOps.Count)
            {
                TOps.Store(TOps.Multiply(TOps.Exp(TOps.MultiplyAdd(TOps.Subtract(TOps.Load(ref x, i), shift), scale, offset)), factor), ref y, i);
            }

            return;
        }

        for (int i = start; i < end; i += TOps.Count)
        {
            TOps.Store(TOps.MultiplyAdd(TOps.Subtract(TOps.Load(ref x, i), shift), scale, offset), ref y, i);
        }
    }
}
