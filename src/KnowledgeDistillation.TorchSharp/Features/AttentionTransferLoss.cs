using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Features;

/// <summary>
/// Activation-based attention transfer (Zagoruyko &amp; Komodakis, ICLR 2017). The attention map of features
/// <c>F</c> of shape <c>[B, C, H, W]</c> is <c>Q = mean over channels of |F|^p</c>, flattened to <c>[B, H·W]</c> and
/// L2-normalised per sample. Maps of different spatial size are pooled down to the smaller one (adaptive average
/// pooling of the un-normalised map) before normalising. Term name <c>at</c>.
/// </summary>
/// <remarks>
/// <see cref="AttentionTransferMode.AuthorsCode"/> (default): value = Σ_pairs mean((Q_s − Q_t)²), weight β = 1000.
/// <see cref="AttentionTransferMode.PaperEquation"/>: value = ½ Σ_pairs mean_batch ‖Q_s − Q_t‖₂, weight β = 1.
/// The trainer multiplies the value by the weight.
/// </remarks>
public sealed class AttentionTransferLoss : FeatureDistillationLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="pairs">Student/teacher layers whose outputs are 4-D feature maps.</param>
    /// <param name="mode">Which convention; see <see cref="AttentionTransferMode"/>.</param>
    /// <param name="beta">The weight β; null for the mode's default (1000 for the authors' code, 1 for the paper's equation).</param>
    /// <param name="p">The exponent of <c>|F|^p</c>; the default value is 2.</param>
    public AttentionTransferLoss(IEnumerable<LayerPair> pairs, AttentionTransferMode mode = AttentionTransferMode.AuthorsCode, float? beta = null, double p = 2)
        : base("at", pairs, beta ?? DefaultBeta(mode))
    {
        if (!double.IsFinite(p) || p <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "The attention exponent p must be finite and positive (the paper uses 2).");
        }
        if (!Enum.IsDefined(mode))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Use AuthorsCode or PaperEquation.");
        }
        Mode = mode;
        P = p;
    }

    /// <summary>The convention used.</summary>
    public AttentionTransferMode Mode { get; }

    /// <summary>The exponent of <c>|F|^p</c>.</summary>
    public double P { get; }

    /// <summary>The default β of a mode: 1000 for the authors' code, 1 for the paper's equation.</summary>
    public static float DefaultBeta(AttentionTransferMode mode) => mode == AttentionTransferMode.PaperEquation ? 1f : 1000f;

    /// <summary>
    /// The normalised attention map <c>normalize(flatten(mean_c |F|^p))</c> of shape <c>[B, H·W]</c>, optionally after
    /// pooling the map down to <paramref name="size"/> (height, width).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="features"/> is not 4-D.</exception>
    public static Tensor AttentionMap(Tensor features, double p = 2, (long Height, long Width)? size = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.dim() != 4)
        {
            throw new ArgumentException(
                $"Attention transfer needs 4-D feature maps [batch, channels, height, width]; got [{string.Join(", ", features.shape)}]. Pick convolutional layers.", nameof(features));
        }
        using Scalar exponent = p.ToScalar();
        Tensor map = features.abs().pow(exponent).mean([1L]);
        if (size is { } s && (s.Height != map.shape[1] || s.Width != map.shape[2]))
        {
            map = nn.functional.adaptive_avg_pool2d(map.unsqueeze(1), [s.Height, s.Width]).squeeze(1);
        }
        return nn.functional.normalize(map.reshape(map.shape[0], -1), p: 2, dim: 1, eps: 1e-12);
    }

    /// <inheritdoc />
    protected override void OnInitialize(IReadOnlyList<long[]> studentShapes, IReadOnlyList<long[]> teacherShapes, Device device)
    {
        for (int i = 0; i < Pairs.Count; i++)
        {
            if (studentShapes[i].Length != 4 || teacherShapes[i].Length != 4)
            {
                throw new ArgumentException(
                    $"Attention transfer needs 4-D feature maps; pair {Pairs[i]} gives student {Shape(studentShapes[i])} and teacher {Shape(teacherShapes[i])}. Pick convolutional layers (for the cnn presets: block1, block2, …).",
                    nameof(studentShapes));
            }
        }
    }

    /// <inheritdoc />
    protected override Tensor ComputeCore(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher)
    {
        Tensor? total = null;
        using Scalar half = 0.5.ToScalar();
        for (int i = 0; i < student.Count; i++)
        {
            (long h, long w) = (Math.Min(student[i].shape[2], teacher[i].shape[2]), Math.Min(student[i].shape[3], teacher[i].shape[3]));
            Tensor qs = AttentionMap(student[i], P, (h, w));
            Tensor qt = AttentionMap(teacher[i], P, (h, w));
            Tensor diff = qs.add(qt, TorchScalars.MinusOne);
            Tensor term = Mode == AttentionTransferMode.AuthorsCode
                ? diff.square().mean()
                : diff.norm(1, false, 2f).mean().mul(half);
            total = total is null ? term : total.add(term, TorchScalars.One);
        }
        return total!;
    }
}
