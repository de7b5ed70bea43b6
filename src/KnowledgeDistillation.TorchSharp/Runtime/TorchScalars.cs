using TorchSharp;

namespace KnowledgeDistillation.TorchSharp.Runtime;

/// <summary>
/// Long-lived <see cref="Scalar"/> constants. TorchSharp 0.107's convenience overloads such as <c>add_(Tensor)</c>
/// and <c>add_(Scalar)</c> forward to <c>add_(x, 1)</c>, creating a temporary Scalar for the implicit alpha that
/// nothing keeps alive during the native call: a concurrent GC can finalise it mid-call and libtorch then fails in
/// <c>Scalar::toFloat</c>. Code here always passes alpha explicitly, from these rooted instances.
/// </summary>
internal static class TorchScalars
{
    /// <summary>The integer 1 (TorchSharp's own implicit alpha), never finalised.</summary>
    internal static readonly Scalar One = 1.ToScalar();

    /// <summary>The integer −1: <c>a.add(b, MinusOne)</c> is <c>a − b</c> without a hidden temporary alpha.</summary>
    internal static readonly Scalar MinusOne = (-1).ToScalar();
}
