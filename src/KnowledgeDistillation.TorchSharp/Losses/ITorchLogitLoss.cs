using KnowledgeDistillation.Losses;

namespace KnowledgeDistillation.TorchSharp.Losses;

/// <summary>
/// A logit loss that also has a form in TorchSharp operations (libtorch autograd), for logits that stay on their device:
/// what <see cref="Training.LogitLossPath.TorchOperations"/> runs, and what <see cref="Training.LogitLossPath.Auto"/> runs
/// off the CPU. Its value and gradient equal the fused-kernel form's (<see cref="IDistillationLoss.Compute"/>) within
/// float rounding. <see cref="TorchLosses"/> builds the library's losses with this form.
/// </summary>
public interface ITorchLogitLoss : IDistillationLoss
{
    /// <summary>
    /// Null when the loss can run as TorchSharp operations as configured; otherwise why it cannot (for example, a token
    /// mapping runs on the fused CPU kernels only). A trainer asked for that path explicitly refuses with this reason.
    /// </summary>
    string? TorchOperationsUnavailableReason => null;

    /// <summary>The loss as a scalar tensor whose gradient with respect to <see cref="TorchLossInputs.StudentLogits"/> is the loss's gradient, with its terms and parameters.</summary>
    TorchLossValue ComputeOnDevice(in TorchLossInputs inputs);
}
