using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Features;

/// <summary>
/// A module that captures its own named intermediate outputs explicitly during a forward pass. Implement it on a
/// custom module to make feature capture independent of how its <c>forward</c> invokes its children (TorchSharp fires
/// forward hooks only through <c>call(x)</c>, never through <c>forward(x)</c>). <see cref="Models.SequentialClassifier"/>
/// implements it.
/// </summary>
public interface IFeatureCapturingModule
{
    /// <summary>The names that <see cref="Forward(Tensor, IReadOnlyCollection{string}, IDictionary{string, Tensor})"/> can capture.</summary>
    IReadOnlyList<string> CapturableNames { get; }

    /// <summary>Runs the module, adding the output of each named part in <paramref name="capture"/> to <paramref name="captured"/>.</summary>
    /// <exception cref="ArgumentException">A requested name is not capturable; the message lists the names that are.</exception>
    Tensor Forward(Tensor input, IReadOnlyCollection<string>? capture, IDictionary<string, Tensor>? captured);
}
