using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace KnowledgeDistillation.Kernels;

/// <summary>Throw helpers kept out of line so that the validating callers stay small and inlinable.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    internal static void ThrowArgument(string paramName, string message) =>
        throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    internal static void ThrowOutOfRange(string paramName, object value, string message) =>
        throw new ArgumentOutOfRangeException(paramName, value, message);

    [DoesNotReturn]
    internal static void ThrowNonFinite(string paramName, int row, int column, float value) =>
        throw new ArgumentException(
            string.Create(CultureInfo.InvariantCulture, $"{paramName} holds a non-finite value ({value}) at row {row}, column {column}. Pass finite logits (a model whose training diverged gives NaN or ∞: lower its learning rate), or set KernelOptions.SkipFiniteCheck to skip this check."),
            paramName);
}
