using System.Runtime.InteropServices;
using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>Σ exp((x − shift)·scale): the softmax normaliser; subtracting the max before scaling keeps full precision.</summary>
internal ref struct SumExpPass : IRowPass
{
    private readonly ReadOnlySpan<float> _values;
    private readonly float _scale;
    private readonly float _shift;

    public SumExpPass(ReadOnlySpan<float> values, float scale, float shift)
    {
        _values = values;
        _scale = scale;
        _shift = shift;
    }

    public double Sum { get; private set; }

    public void Run<TOps, TVec>(int start, int end)
        where TOps : ISimdOps<TVec>
        where TVec : struct
    {
        ref float x = ref MemoryMarshal.GetReference(_values);
        TVec scale = TOps.Broadcast(_scale);
        TVec shift = TOps.Broadcast(_shift);
        TVec sum = TOps.Broadcast(0f);
        int sinceFlush = 0;
        double total = Sum;
        for (int i = start; i < end; i += TOps.Count)
        {
            sum = TOps.Add(sum, TOps.Exp(TOps.Multiply(TOps.Subtract(TOps.Load(ref x, i), shift), scale)));
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
