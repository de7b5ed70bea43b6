using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace KnowledgeDistillation.Kernels.Simd;

/// <summary>128-bit lanes for the generic row passes.</summary>
internal readonly struct Vector128Ops : ISimdOps<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(ref float source, int index) => Vector128.LoadUnsafe(ref source, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> value, ref float destination, int index) => value.StoreUnsafe(ref destination, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Broadcast(float value) => Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> left, Vector128<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Subtract(Vector128<float> left, Vector128<float> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Multiply(Vector128<float> left, Vector128<float> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> left, Vector128<float> right, Vector128<float> addend) =>
        Vector128.FusedMultiplyAdd(left, right, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Max(Vector128<float> left, Vector128<float> right) => Vector128.Max(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Log(Vector128<float> value) => Vector128.Log(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalSum(Vector128<float> value) => Vector128.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalMax(Vector128<float> value)
    {
        float max = value.GetElement(0);
        for (int i = 1; i < Vector128<float>.Count; i++)
        {
            max = MathF.Max(max, value.GetElement(i));
        }

        return max;
    }

    /// <summary>See <see cref="FastExp"/>: the same steps on 4 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> value)
    {
        Vector128<float> x = Vector128.Min(Vector128.Max(value, Vector128.Create(FastExp.MinInput)), Vector128.Create(FastExp.MaxInput));
        Vector128<float> shifted = Vector128.FusedMultiplyAdd(x, Vector128.Create(FastExp.Log2E), Vector128.Create(FastExp.RoundingMagic));
        Vector128<float> n = shifted - Vector128.Create(FastExp.RoundingMagic);
        Vector128<float> r = Vector128.FusedMultiplyAdd(n, Vector128.Create(-FastExp.Ln2High), x);
        r = Vector128.FusedMultiplyAdd(n, Vector128.Create(-FastExp.Ln2Low), r);
        Vector128<float> p = Vector128.FusedMultiplyAdd(Vector128.Create(FastExp.C7), r, Vector128.Create(FastExp.C6));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(FastExp.C5));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(FastExp.C4));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(FastExp.C3));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(FastExp.C2));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128<float>.One);
        p = Vector128.FusedMultiplyAdd(p, r, Vector128<float>.One);
        Vector128<int> bits = Vector128.ShiftLeft(shifted.AsInt32() + Vector128.Create(127), 23);
        return p * bits.AsSingle();
    }
}
