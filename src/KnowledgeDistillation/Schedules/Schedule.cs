using System.Globalization;

namespace KnowledgeDistillation.Schedules;

/// <summary>Factory methods and shared validation for the built-in schedules.</summary>
public static class Schedule
{
    /// <summary>The same value at every step.</summary>
    public static ISchedule Constant(float value) => new ConstantSchedule(value);

    /// <summary>Straight line from <paramref name="start"/> at step 0 to <paramref name="end"/> at the last step.</summary>
    public static ISchedule Linear(float start, float end) => new LinearSchedule(start, end);

    /// <summary>Half-cosine from <paramref name="start"/> to <paramref name="end"/>.</summary>
    public static ISchedule Cosine(float start, float end) => new CosineSchedule(start, end);

    /// <summary>Geometric interpolation from <paramref name="start"/> to <paramref name="end"/> (both &gt; 0).</summary>
    public static ISchedule Exponential(float start, float end) => new ExponentialSchedule(start, end);

    /// <summary>
    /// Piecewise-constant values over equal parts of the run: with one value per epoch, <c>Piecewise(2, 1.5, 1, 0.5)</c>
    /// over 4 epochs uses 2.0 in the first epoch, 1.5 in the second, and so on.
    /// </summary>
    public static ISchedule Piecewise(params float[] values) => new PiecewiseSchedule(values);

    /// <summary>One minus <paramref name="schedule"/> at every step: the weight of the hard-label term when <paramref name="schedule"/> is α.</summary>
    public static ISchedule OneMinus(ISchedule schedule) => new OneMinusSchedule(schedule ?? throw new ArgumentNullException(nameof(schedule)));

    /// <summary>
    /// Parses a schedule from text, as the CLI accepts it: <c>4</c>, <c>constant:4</c>, <c>linear:8:2</c>,
    /// <c>cosine:8:2</c>, <c>exp:8:2</c>, <c>step:2,1.5,1,0.5</c>.
    /// </summary>
    /// <exception cref="FormatException">The text is not one of the accepted forms; the message lists them.</exception>
    public static ISchedule Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        string[] parts = text.Trim().Split(':');
        try
        {
            switch (parts[0].ToLowerInvariant())
            {
                case "constant" when parts.Length == 2:
                    return Constant(F(parts[1]));
                case "linear" when parts.Length == 3:
                    return Linear(F(parts[1]), F(parts[2]));
                case "cosine" when parts.Length == 3:
                    return Cosine(F(parts[1]), F(parts[2]));
                case "exp" or "exponential" when parts.Length == 3:
                    return Exponential(F(parts[1]), F(parts[2]));
                case "step" or "piecewise" when parts.Length == 2:
                    return Piecewise(parts[1].Split(',').Select(F).ToArray());
                default:
                    if (parts.Length == 1)
                    {
                        return Constant(F(parts[0]));
                    }
                    break;
            }
        }
        catch (FormatException ex)
        {
            throw new FormatException($"Schedule '{text}' has a value that is not a number: {ex.Message}", ex);
        }
        throw new FormatException(
            $"Schedule '{text}' is not recognised. Use a number (4), constant:V, linear:START:END, cosine:START:END, exp:START:END or step:V1,V2,... .");
    }

    internal static float Progress(long step, long totalSteps)
    {
        if (totalSteps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "A schedule needs at least one step (totalSteps >= 1).");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        return totalSteps == 1 ? 1f : Math.Min(1f, step / (float)(totalSteps - 1));
    }

    internal static void RequireFinite(float value, string name)
    {
        if (!float.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"Schedule value '{name}' must be a finite number.");
        }
    }

    private static float F(string s) => float.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
}
