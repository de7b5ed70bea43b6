using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.Training;
using KnowledgeDistillation.TorchSharp.Training;

namespace KnowledgeDistillation.TorchSharp.LanguageModels;

/// <summary>Options of <see cref="LanguageModelTrainer"/>.</summary>
public sealed class LanguageModelTrainingOptions
{
    /// <summary>Optimiser steps. <value>The default value is 500.</value></summary>
    public int Steps { get; set; } = 500;

    /// <summary>Sequences per micro-batch. <value>The default value is 16.</value></summary>
    public int BatchSize { get; set; } = 16;

    /// <summary>Tokens per sequence; at most the model's context. <value>The default value is 64.</value></summary>
    public int SequenceLength { get; set; } = 64;

    /// <summary>Micro-batches per optimiser step; the loss is normalised by the valid tokens of all of them. <value>The default value is 1.</value></summary>
    public int GradientAccumulationSteps { get; set; } = 1;

    /// <summary>Peak learning rate (AdamW). <value>The default value is 3e-3.</value></summary>
    public double LearningRate { get; set; } = 3e-3;

    /// <summary>Fraction of the steps spent warming up linearly. <value>The default value is 0.05.</value></summary>
    public double WarmupFraction { get; set; } = 0.05;

    /// <summary>Decay after warm-up. <value>The default value is <see cref="LearningRateScheduleKind.Cosine"/>.</value></summary>
    public LearningRateScheduleKind Schedule { get; set; } = LearningRateScheduleKind.Cosine;

    /// <summary>AdamW decoupled weight decay. <value>The default value is 0.01.</value></summary>
    public double WeightDecay { get; set; } = 0.01;

    /// <summary>Global gradient-norm clip; null for none. <value>The default value is 1.</value></summary>
    public double? GradientClipNorm { get; set; } = 1.0;

    /// <summary>Seed of weights-independent randomness (batch sampling, dropout). <value>The default value is 1.</value></summary>
    public int Seed { get; set; } = 1;

    /// <summary>What the teacher contributes. <value>The default value is <see cref="LanguageModelTeacherMode.None"/>.</value></summary>
    public LanguageModelTeacherMode TeacherMode { get; set; } = LanguageModelTeacherMode.None;

    /// <summary>Weight α of the distillation term; the next-token cross-entropy gets 1 − α. <value>The default value is 0.5.</value></summary>
    public float Alpha { get; set; } = 0.5f;

    /// <summary>k of <see cref="LanguageModelTeacherMode.SparseTopK"/>. <value>The default value is 20.</value></summary>
    public int TopK { get; set; } = 20;

    /// <summary>The distillation loss (divergence, temperature, vocabulary handling). <value>The default value is forward KL at T = 1.</value></summary>
    public SequenceLossOptions Loss { get; set; } = new();

    /// <summary>Where the distillation loss runs. <value>The default value is <see cref="LogitLossPath.Auto"/>.</value></summary>
    public LogitLossPath LossPath { get; set; } = LogitLossPath.Auto;

    /// <summary>Teacher → student ids when the tokenizers differ. <value>The default value is null.</value></summary>
    public TokenMapping? TokenMapping { get; set; }

    /// <summary>Steps between progress reports (0 = none). <value>The default value is 50.</value></summary>
    public int ReportEvery { get; set; } = 50;

    /// <summary>Checks every value and throws naming the property, its value and the fix.</summary>
    public void Validate()
    {
        Positive(Steps, nameof(Steps));
        Positive(BatchSize, nameof(BatchSize));
        Positive(SequenceLength, nameof(SequenceLength));
        Positive(GradientAccumulationSteps, nameof(GradientAccumulationSteps));
        Positive(TopK, nameof(TopK));
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be finite and > 0 (3e-3 suits the small models here).");
        }

        if (!(WarmupFraction >= 0 && WarmupFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(WarmupFraction), WarmupFraction, "WarmupFraction must be in [0, 1).");
        }

        if (!(WeightDecay >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "WeightDecay must be ≥ 0.");
        }

        if (GradientClipNorm is { } clip && !(clip > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(GradientClipNorm), clip, "GradientClipNorm must be > 0, or null for no clipping.");
        }

        if (!(Alpha >= 0 && Alpha <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "Alpha must be in [0, 1] (1 = distillation only, 0 = labels only).");
        }

        ArgumentNullException.ThrowIfNull(Loss, nameof(Loss));
        Loss.Validate();
    }

    private static void Positive(int value, string name)
    {
        if (value < 1)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be ≥ 1.");
        }
    }
}
