using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Models;

/// <summary>
/// A TorchSharp model of one batch kind: what <see cref="Training.TorchDistiller"/> trains as a student and runs on the
/// device as a teacher. It knows how to turn a batch into its input tensor, and returns its logits as rows
/// <c>[rows, classes]</c> (an image classifier: one row per image; a language model: one row per token position), so the
/// trainer, the losses and the metrics treat every model kind alike. <see cref="TorchModel"/> (classifiers over
/// <see cref="Batch"/>) and <see cref="LanguageModels.TorchLanguageModel"/> (causal language models over
/// <see cref="TokenBatch"/>) implement it; a new model kind is one new implementation.
/// </summary>
/// <typeparam name="TBatch">The batch type the model reads.</typeparam>
public interface ITorchModel<in TBatch> : IStudent
{
    /// <summary>The module (its parameters are what the trainer optimises).</summary>
    nn.Module<Tensor, Tensor> Module { get; }

    /// <summary>The device the module is on.</summary>
    Device Device { get; }

    /// <summary>Checks that <paramref name="data"/> fits this model (sample shape, classes), before any training.</summary>
    /// <param name="data">The data set.</param>
    /// <param name="parameterName">The caller's parameter name, for the exception.</param>
    /// <exception cref="ArgumentException">It does not; the message names both shapes.</exception>
    void EnsureCompatible(IBatchSource<TBatch> data, string parameterName);

    /// <summary>The batch as the model's input tensor on <see cref="Device"/>; it belongs to the caller's dispose scope.</summary>
    Tensor ToInput(TBatch batch);

    /// <summary>
    /// Runs the module on an input from <see cref="ToInput"/> in its current mode and gradient state, adding the named
    /// intermediate outputs to <paramref name="captured"/>, and returns the logits as rows <c>[rows, classes]</c>.
    /// </summary>
    /// <exception cref="ArgumentException">An intermediate name is unknown (the message lists the known ones).</exception>
    Tensor ForwardRows(Tensor input, IReadOnlyCollection<string>? capture = null, IDictionary<string, Tensor>? captured = null);

    /// <summary>The label of each row <see cref="ForwardRows"/> returns for this batch, and which rows count.</summary>
    RowLabels LabelsOf(TBatch batch);

    /// <summary>Checks that every name can be captured from this model.</summary>
    /// <exception cref="ArgumentException">A name is unknown; the message lists the capturable names.</exception>
    void EnsureCapturable(IEnumerable<string> names, string role);
}
