using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace KnowledgeDistillation.Kernels.Simd;

/// <summary>512-bit lanes for the generic row passes.</summary>
internal readonly struct Vector512Ops : ISimdOps<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ref float source, int index) => Vector512.LoadUnsafe(ref source, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, ref float destination, int index) => value.StoreUnsafe(ref destination, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> left, Vector512<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Subtract(Vector512<float> left, Vector512<float> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> left, Vector512<float> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> left, Vector512<float> right, Vector512<float> addend) =>
        Vector512.FusedMultiplyAdd(left, right, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Max(Vector512<float> left, Vector512<float> right) => Vector512.Max(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Log(Vector512<float> value) => Vector512.Log(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalSum(Vector512<float> value) => Vector512.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalMax(Vector512<float> value)
    {
        float max = value.GetElement(0);
        for (int i = 1; i < Vector512<float>.Count; i++)
        {
            max = MathF.Max(max, value.GetElement(i));
        }

        return max;
    }

    /// <summary>See <see cref="FastExp"/>: the same steps on 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> value)
    {
        Vector512<float> x = Vector512.Min(Vector512.Max(value, Vector512.Create(FastExp.MinInput)), Vector512.Create(FastExp.MaxInput));
        Vector512<float> shifted = Vector512.FusedMultiplyAdd(x, Vector512.Create(FastExp.Log2E), Vector512.Create(FastExp.RoundingMagic));
        Vector512<float> n = shifted - Vector512.Create(FastExp.RoundingMagic);
        Vector512<float> r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-FastExp.Ln2High), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-FastExp.Ln2Low), r);
        Vector512<float> p = Vector512.FusedMultiplyAdd(Vector512.Create(FastExp.C7), r, Vector512.Create(FastExp.C6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(FastExp.C5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(FastExp.C4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(FastExp.C3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(FastExp.C2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        Vector512<int> bits = Vector512.ShiftLeft(shifted.AsInt32() + Vector512.Create(127), 23);
        return p * bits.AsSingle();
    }
}
