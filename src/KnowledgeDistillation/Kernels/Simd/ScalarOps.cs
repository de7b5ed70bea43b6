using System.Runtime.CompilerServices;

namespace KnowledgeDistillation.Kernels.Simd;

/// <summary>One lane: the remainder path of every row pass, with the same exp as the vector paths.</summary>
internal readonly struct ScalarOps : ISimdOps<float>
{
    public static int Count => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ref float source, int index) => Unsafe.Add(ref source, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float value, ref float destination, int index) => Unsafe.Add(ref destination, index) = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Broadcast(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Add(float left, float right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Subtract(float left, float right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Multiply(float left, float right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAdd(float left, float right, float addend) => MathF.FusedMultiplyAdd(left, right, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max(float left, float right) => MathF.Max(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float value) => FastExp.Exp(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log(float value) => MathF.Log(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalSum(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalMax(float value) => value;
}
