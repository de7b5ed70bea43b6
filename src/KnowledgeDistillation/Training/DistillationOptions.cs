using System.Globalization;
using KnowledgeDistillation.Schedules;

namespace KnowledgeDistillation.Training;

/// <summary>
/// Backend-neutral training options of a distillation run, the same for every model kind (image classifiers, language
/// models: a batch is then sequences, and an epoch the windows its data source yields). The model's device is the model's
/// own (chosen when it is built). Every property has a documented default; call
/// <see cref="Validate"/> (the trainer does, before any work) to get every problem in one clear exception.
/// </summary>
public sealed class DistillationOptions
{
    /// <summary>Epochs to train. <value>The default value is 5.</value></summary>
    public int Epochs { get; set; } = 5;

    /// <summary>Samples per optimisation step (before accumulation). <value>The default value is 128.</value></summary>
    public int BatchSize { get; set; } = 128;

    /// <summary>Micro-batches accumulated per optimisation step; the loss is normalised by the rows of all of them. <value>The default value is 1.</value></summary>
    public int GradientAccumulationSteps { get; set; } = 1;

    /// <summary>Random seed for initialisation, shuffling and dropout. <value>The default value is 42.</value></summary>
    public int Seed { get; set; } = 42;

    /// <summary>The optimizer. <value>The default value is <see cref="OptimizerKind.AdamW"/>.</value></summary>
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.AdamW;

    /// <summary>Peak learning rate. <value>The default value is 0.001.</value></summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Weight decay (decoupled for AdamW, L2 for SGD). <value>The default value is 0.0001.</value></summary>
    public double WeightDecay { get; set; } = 1e-4;

    /// <summary>SGD momentum (ignored by AdamW). <value>The default value is 0.9.</value></summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>The learning-rate schedule after warm-up. <value>The default value is <see cref="LearningRateScheduleKind.Cosine"/>.</value></summary>
    public LearningRateScheduleKind LearningRateSchedule { get; set; } = LearningRateScheduleKind.Cosine;

    /// <summary>Fraction of all steps spent in linear warm-up from 0 to <see cref="LearningRate"/>, in [0, 1). <value>The default value is 0.</value></summary>
    public double WarmupFraction { get; set; }

    /// <summary>Clip the global gradient norm to this value; null disables clipping. <value>The default value is null.</value></summary>
    public double? GradientClipNorm { get; set; }

    /// <summary>The distillation temperature schedule, as text for <see cref="Schedule.Parse"/> (<c>4</c>, <c>cosine:8:2</c>, <c>step:2,1.5,1,0.5</c>). <value>The default value is "4".</value></summary>
    public string Temperature { get; set; } = "4";

    /// <summary>The α schedule (weight of the distillation term), values in [0, 1]. <value>The default value is "0.9".</value></summary>
    public string Alpha { get; set; } = "0.9";

    /// <summary>Compute threads for the CPU backend; null leaves the backend's default. <value>The default value is null.</value></summary>
    public int? Threads { get; set; }

    /// <summary>Returns the parsed temperature schedule.</summary>
    public ISchedule TemperatureSchedule() => Schedule.Parse(Temperature);

    /// <summary>Returns the parsed α schedule.</summary>
    public ISchedule AlphaSchedule() => Schedule.Parse(Alpha);

    /// <summary>Returns every problem with these options, or an empty list.</summary>
    public IReadOnlyList<string> GetErrors(long? totalSteps = null)
    {
        var errors = new List<string>();
        if (Epochs < 1)
        {
            errors.Add($"Epochs must be at least 1 (was {Epochs}).");
        }
        if (BatchSize < 1)
        {
            errors.Add($"BatchSize must be at least 1 (was {BatchSize}).");
        }
        if (GradientAccumulationSteps < 1)
        {
            errors.Add($"GradientAccumulationSteps must be at least 1 (was {GradientAccumulationSteps}).");
        }
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
        {
            errors.Add($"LearningRate must be positive and finite (was {LearningRate.ToString(CultureInfo.InvariantCulture)}).");
        }
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay))
        {
            errors.Add($"WeightDecay must be non-negative and finite (was {WeightDecay.ToString(CultureInfo.InvariantCulture)}).");
        }
        if (!(Momentum >= 0 && Momentum < 1))
        {
            errors.Add($"Momentum must be in [0, 1) (was {Momentum.ToString(CultureInfo.InvariantCulture)}).");
        }
        if (!(WarmupFraction >= 0 && WarmupFraction < 1))
        {
            errors.Add($"WarmupFraction must be in [0, 1) (was {WarmupFraction.ToString(CultureInfo.InvariantCulture)}).");
        }
        if (GradientClipNorm is { } clip && (!(clip > 0) || !double.IsFinite(clip)))
        {
            errors.Add($"GradientClipNorm must be positive and finite, or null to disable clipping (was {clip.ToString(CultureInfo.InvariantCulture)}).");
        }
        if (Threads is { } threads && threads < 1)
        {
            errors.Add($"Threads must be at least 1, or null for the backend default (was {threads}).");
        }
        CheckSchedule(errors, nameof(Temperature), Temperature, totalSteps, v => v > 0 && float.IsFinite(v), "positive");
        CheckSchedule(errors, nameof(Alpha), Alpha, totalSteps, v => v >= 0 && v <= 1, "in [0, 1]");
        return errors;
    }

    /// <summary>Throws one <see cref="ArgumentException"/> listing every problem, or returns when the options are valid.</summary>
    /// <param name="totalSteps">When known, schedules are checked at every step of the run.</param>
    public void Validate(long? totalSteps = null)
    {
        IReadOnlyList<string> errors = GetErrors(totalSteps);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid DistillationOptions: " + string.Join(" ", errors), "options");
        }
    }

    private static void CheckSchedule(List<string> errors, string name, string text, long? totalSteps, Func<float, bool> ok, string requirement)
    {
        ISchedule schedule;
        try
        {
            schedule = Schedule.Parse(text);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            errors.Add($"{name}: {ex.Message}");
            return;
        }
        long steps = totalSteps ?? 1000;
        // Schedules are monotone or piecewise, so checking every step of the run (or 1000 probes) finds a bad value.
        long stride = Math.Max(1, steps / 1000);
        for (long step = 0; step < steps; step += stride)
        {
            float v = schedule.ValueAt(step, steps);
            if (!ok(v))
            {
                errors.Add($"{name} schedule '{text}' gives {v.ToString(CultureInfo.InvariantCulture)} at step {step} of {steps}; values must be {requirement}.");
                return;
            }
        }
        float last = schedule.ValueAt(steps - 1, steps);
        if (!ok(last))
        {
            errors.Add($"{name} schedule '{text}' gives {last.ToString(CultureInfo.InvariantCulture)} at the last step; values must be {requirement}.");
        }
    }
}

/// <summary>Optimizers the trainers support.</summary>
public enum OptimizerKind
{
    /// <summary>AdamW (decoupled weight decay).</summary>
    AdamW,

    /// <summary>SGD with momentum.</summary>
    Sgd,
}

/// <summary>Learning-rate schedules after warm-up.</summary>
public enum LearningRateScheduleKind
{
    /// <summary>Constant.</summary>
    Constant,

    /// <summary>Linear decay to 0.</summary>
    Linear,

    /// <summary>Cosine decay to 0.</summary>
    Cosine,
}
