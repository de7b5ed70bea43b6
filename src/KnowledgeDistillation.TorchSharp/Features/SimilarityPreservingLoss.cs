using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Features;

/// <summary>
/// Similarity-preserving distillation (Tung &amp; Mori, ICCV 2019): per pair, the batch similarity matrices
/// <c>G = A·Aᵀ</c> of the flattened features <c>A</c> (<c>[B, ·]</c>), row-wise L2-normalised, must agree:
/// value = Σ_pairs ‖G̃_s − G̃_t‖²_F / B². Needs no adapter: features of any width can be compared. Term name <c>sp</c>;
/// the default weight γ = 3000 is the paper's.
/// </summary>
public sealed class SimilarityPreservingLoss : FeatureDistillationLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="pairs">Student/teacher layer pairs (any shapes with the same batch size).</param>
    /// <param name="weight">γ; the default value is 3000.</param>
    public SimilarityPreservingLoss(IEnumerable<LayerPair> pairs, float weight = 3000)
        : base("sp", pairs, weight)
    {
    }

    /// <summary>The row-normalised similarity matrix <c>normalize(A·Aᵀ)</c> of shape <c>[B, B]</c>.</summary>
    public static Tensor SimilarityMatrix(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        Tensor a = features.reshape(features.shape[0], -1);
        return nn.functional.normalize(a.mm(a.t()), p: 2, dim: 1, eps: 1e-12);
    }

    /// <inheritdoc />
    protected override Tensor ComputeCore(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher)
    {
        Tensor? total = null;
        for (int i = 0; i < student.Count; i++)
        {
            long b = student[i].shape[0];
            using Scalar inverseSquare = (1.0 / (b * (double)b)).ToScalar();
            Tensor diff = SimilarityMatrix(student[i]).add(SimilarityMatrix(teacher[i]), TorchScalars.MinusOne);
            Tensor term = diff.square().sum().mul(inverseSquare);
            total = total is null ? term : total.add(term, TorchScalars.One);
        }
        return total!;
    }
}
