using System.Runtime.InteropServices;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>Σ exp(x·scale + offset): the softmax normaliser with the max already folded into offset.</summary>
internal ref struct SumExpPass : IRowPass
{
    private readonly ReadOnlySpan<float> _values;
    private readonly float _scale;
    private readonly float _offset;

    public SumExpPass(ReadOnlySpan<float> values, float scale, float offset)
    {
        _values = values;
        _scale = scale;
        _offset = offset;
    }

    public double Sum { get; private set; }

    public void Run<TOps, TVec>(int start, int end)
        where TOps : ISimdOps<TVec>
        where TVec : struct
    {
        ref float x = ref MemoryMarshal.GetReference(_values);
        TVec scale = TOps.Broadcast(_scale);
        TVec offset = TOps.Broadcast(_offset);
        TVec sum = TOps.Broadcast(0f);
        int sinceFlush = 0;
        double total = Sum;
        for (int i = start; i < end; i += TOps.Count)
        {
            sum = TOps.Add(sum, TOps.Exp(TOps.MultiplyAdd(TOps.Load(ref x, i), scale, offset)));
            if (++sinceFlush == RowPassRunner.FlushInterval)
            {
                total += TOps.HorizontalSum(sum);
                sum = TOps.Broadcast(0f);
                sinceFlush = 0;
            }
        }

        Sum = total + TOps.HorizontalSum(sum);
    }
}
