namespace KnowledgeDistillation.Kernels.Simd;

/// <summary>
/// The vector operations a row pass needs, implemented once per width (512, 256, 128 bits and scalar) so that every
/// pass is written once as a generic method and the JIT specialises it per width, as TensorPrimitives' operators do.
/// </summary>
internal interface ISimdOps<TVec>
    where TVec : struct
{
    static abstract int Count { get; }

    static abstract TVec Load(ref float source, int index);

    static abstract void Store(TVec value, ref float destination, int index);

    static abstract TVec Broadcast(float value);

    static abstract TVec Add(TVec left, TVec right);

    static abstract TVec Subtract(TVec left, TVec right);

    static abstract TVec Multiply(TVec left, TVec right);

    /// <summary>left * right + addend, rounded once.</summary>
    static abstract TVec MultiplyAdd(TVec left, TVec right, TVec addend);

    static abstract TVec Max(TVec left, TVec right);

    /// <summary>The fast exponential of <see cref="FastExp"/>, lane by lane.</summary>
    static abstract TVec Exp(TVec value);

    static abstract TVec Log(TVec value);

    static abstract float HorizontalSum(TVec value);

    static abstract float HorizontalMax(TVec value);
}
