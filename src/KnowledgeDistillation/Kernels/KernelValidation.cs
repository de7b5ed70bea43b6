using System.Globalization;
using System.Runtime.CompilerServices;

namespace KnowledgeDistillation.Kernels;

/// <summary>Up-front argument checks shared by the kernels; every failure names the parameter and the values.</summary>
internal static class KernelValidation
{
    internal static int Rows(int length, int classes, string paramName)
    {
        if (classes < 1)
        {
            ThrowHelper.ThrowOutOfRange("classes", classes, "classes must be at least 1.");
        }

        if (length % classes != 0)
        {
            ThrowHelper.ThrowArgument(paramName, Format($"{paramName}.Length ({length}) is not a multiple of classes ({classes}), so it is not a [rows × classes] buffer."));
        }

        return length / classes;
    }

    internal static void SameLength(int expected, int actual, string paramName, string expectedName)
    {
        if (expected != actual)
        {
            ThrowHelper.ThrowArgument(paramName, Format($"{paramName}.Length ({actual}) must equal {expectedName} ({expected})."));
        }
    }

    internal static void Temperature(float temperature, [CallerArgumentExpression(nameof(temperature))] string paramName = "temperature")
    {
        if (!(temperature > 0f) || float.IsPositiveInfinity(temperature))
        {
            ThrowHelper.ThrowOutOfRange(paramName, temperature, Format($"{paramName} must be finite and > 0, was {temperature}."));
        }
    }

    internal static void UnitInterval(float value, string paramName)
    {
        if (!(value >= 0f && value <= 1f))
        {
            ThrowHelper.ThrowOutOfRange(paramName, value, Format($"{paramName} must be in [0, 1], was {value}."));
        }
    }

    internal static void NonNegativeFinite(float value, string paramName)
    {
        if (!(value >= 0f) || float.IsPositiveInfinity(value))
        {
            ThrowHelper.ThrowOutOfRange(paramName, value, Format($"{paramName} must be finite and >= 0, was {value}."));
        }
    }

    internal static void Labels(ReadOnlySpan<int> labels, int classes, string paramName)
    {
        for (int row = 0; row < labels.Length; row++)
        {
            if ((uint)labels[row] >= (uint)classes)
            {
                ThrowHelper.ThrowOutOfRange(paramName, labels[row], Format($"{paramName}[{row}] = {labels[row]} is outside [0, classes) = [0, {classes})."));
            }
        }
    }

    /// <summary>The divisor of the summed loss: the explicit normalizer, else the one the reduction implies.</summary>
    internal static double Divisor(in KernelOptions options, int rows, int classes, Span<float> rowLosses)
    {
        if (options.Normalizer is float normalizer)
        {
            if (!(normalizer > 0f) || float.IsPositiveInfinity(normalizer))
            {
                ThrowHelper.ThrowOutOfRange("options.Normalizer", normalizer, Format($"options.Normalizer must be finite and > 0, was {normalizer}."));
            }

            return normalizer;
        }

        if (options.Reduction == LossReduction.None && rowLosses.IsEmpty && rows > 0)
        {
            ThrowHelper.ThrowArgument("rowLosses", "LossReduction.None needs a rowLosses destination with one element per row.");
        }

        return options.Reduction switch
        {
            LossReduction.BatchMean => Math.Max(rows, 1),
            LossReduction.Sum or LossReduction.None => 1,
            LossReduction.Mean => Math.Max((double)rows * classes, 1),
            _ => throw new ArgumentOutOfRangeException("options.Reduction", options.Reduction, "Unknown LossReduction."),
        };
    }

    internal static void RowLosses(Span<float> rowLosses, int rows)
    {
        if (!rowLosses.IsEmpty && rowLosses.Length != rows)
        {
            ThrowHelper.ThrowArgument("rowLosses", Format($"rowLosses.Length ({rowLosses.Length}) must be 0 or the number of rows ({rows})."));
        }
    }

    /// <summary>Throws for the first NaN or ±Inf in a [rows × classes] buffer; returns when there is none.</summary>
    internal static void ThrowIfNonFinite(ReadOnlySpan<float> values, int classes, string paramName)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                ThrowHelper.ThrowNonFinite(paramName, i / classes, i % classes, values[i]);
            }
        }
    }

    private static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
