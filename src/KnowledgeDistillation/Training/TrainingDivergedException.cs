using System.Globalization;

namespace KnowledgeDistillation.Training;

/// <summary>
/// Training diverged: at an optimisation step the student's logits held NaN or ∞, or the loss was not finite. Thrown by
/// the trainer at the step where it happens, before a non-finite value reaches the loss kernels or the weights. The
/// usual cause is a learning rate too high for the model and the loss.
/// </summary>
public sealed class TrainingDivergedException : ArithmeticException
{
    /// <summary>Creates the exception with a message built from the step, the epoch and what was seen.</summary>
    /// <param name="step">The optimisation step, from 1.</param>
    /// <param name="totalSteps">The steps of the whole run.</param>
    /// <param name="epoch">The epoch, from 1.</param>
    /// <param name="learningRate">The peak learning rate of the run.</param>
    /// <param name="observation">What was not finite (for example "the loss is ∞").</param>
    public TrainingDivergedException(long step, long totalSteps, int epoch, double learningRate, string observation)
        : base(string.Create(CultureInfo.InvariantCulture,
            $"The loss diverged at step {step} of {totalSteps} (epoch {epoch}): {observation}. The learning rate ({learningRate:G4}) is too high for this model and loss: lower it (DistillationOptions.LearningRate), or clip gradients (DistillationOptions.GradientClipNorm)."))
    {
        Step = step;
        TotalSteps = totalSteps;
        Epoch = epoch;
        LearningRate = learningRate;
        Observation = observation ?? "";
    }

    /// <summary>Creates the exception with a message.</summary>
    public TrainingDivergedException()
        : base("The loss diverged.")
    {
        Observation = "";
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public TrainingDivergedException(string message)
        : base(message)
    {
        Observation = "";
    }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public TrainingDivergedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Observation = "";
    }

    /// <summary>The optimisation step at which the loss diverged, from 1.</summary>
    public long Step { get; }

    /// <summary>The steps of the whole run.</summary>
    public long TotalSteps { get; }

    /// <summary>The epoch in which the loss diverged, from 1.</summary>
    public int Epoch { get; }

    /// <summary>The run's peak learning rate.</summary>
    public double LearningRate { get; }

    /// <summary>What was not finite, in words (for example "the student's logits hold NaN").</summary>
    public string Observation { get; }
}
