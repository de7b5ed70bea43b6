using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace KnowledgeDistillation.Kernels.Simd;

/// <summary>256-bit lanes for the generic row passes.</summary>
internal readonly struct Vector256Ops : ISimdOps<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ref float source, int index) => Vector256.LoadUnsafe(ref source, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> value, ref float destination, int index) => value.StoreUnsafe(ref destination, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Broadcast(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> left, Vector256<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Subtract(Vector256<float> left, Vector256<float> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Multiply(Vector256<float> left, Vector256<float> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> left, Vector256<float> right, Vector256<float> addend) =>
        Vector256.FusedMultiplyAdd(left, right, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Max(Vector256<float> left, Vector256<float> right) => Vector256.Max(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> value) => Vector256.Log(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalSum(Vector256<float> value) => Vector256.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalMax(Vector256<float> value)
    {
        float max = value.GetElement(0);
        for (int i = 1; i < Vector256<float>.Count; i++)
        {
            max = MathF.Max(max, value.GetElement(i));
        }

        return max;
    }

    /// <summary>See <see cref="FastExp"/>: the same steps on 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> value)
    {
        Vector256<float> x = Vector256.Min(Vector256.Max(value, Vector256.Create(FastExp.MinInput)), Vector256.Create(FastExp.MaxInput));
        Vector256<float> shifted = Vector256.FusedMultiplyAdd(x, Vector256.Create(FastExp.Log2E), Vector256.Create(FastExp.RoundingMagic));
        Vector256<float> n = shifted - Vector256.Create(FastExp.RoundingMagic);
        Vector256<float> r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-FastExp.Ln2High), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-FastExp.Ln2Low), r);
        Vector256<float> p = Vector256.FusedMultiplyAdd(Vector256.Create(FastExp.C7), r, Vector256.Create(FastExp.C6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(FastExp.C5));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(FastExp.C4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(FastExp.C3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(FastExp.C2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        Vector256<int> bits = Vector256.ShiftLeft(shifted.AsInt32() + Vector256.Create(127), 23);
        return p * bits.AsSingle();
    }
}
