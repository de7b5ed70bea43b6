using KnowledgeDistillation.TorchSharp.Features;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.Features;

/// <summary>Feature losses checked against values derived by hand or computed independently in plain C#.</summary>
public sealed class FeatureLossTests
{
    private static readonly LayerPair[] OnePair = [new("s", "t")];

    public FeatureLossTests() => TorchSharpRuntime.EnsureInitialized();

    private static Tensor T(float[] values, params long[] shape) => torch.tensor(values, shape);

    private static float Value(FeatureDistillationLoss loss, Tensor student, Tensor teacher) =>
        loss.Compute([student], [teacher]).item<float>();

    [Fact]
    public void AttentionMap_IsTheNormalisedChannelMeanOfSquares()
    {
        // One sample, 2 channels, 2×2: mean over channels of F² = [(1+9)/2, (4+0)/2, (0+16)/2, (1+1)/2] = [5, 2, 8, 1].
        using Tensor f = T([1, 2, 0, 1, 3, 0, 4, -1], 1, 2, 2, 2);
        float[] expected = [5, 2, 8, 1];
        double norm = Math.Sqrt(expected.Sum(v => v * v));

        float[] map = AttentionTransferLoss.AttentionMap(f).data<float>().ToArray();

        map.Should().Equal(expected.Select(v => (float)(v / norm)), (a, b) => Math.Abs(a - b) < 1e-6);
    }

    [Theory]
    [InlineData(AttentionTransferMode.AuthorsCode)]
    [InlineData(AttentionTransferMode.PaperEquation)]
    public void AttentionTransfer_IdenticalOrScaledMaps_GiveZero(AttentionTransferMode mode)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        Tensor f = torch.randn(4, 3, 5, 5);
        using var loss = new AttentionTransferLoss(OnePair, mode);

        Value(loss, f, f.clone()).Should().BeApproximately(0, 1e-6f);
        // |5F|² = 25|F|²: the same map after normalisation.
        Value(loss, f, f.mul(torch.tensor(5f))).Should().BeApproximately(0, 1e-5f);
        Value(loss, f, torch.randn(4, 7, 5, 5)).Should().BeGreaterThan(1e-4f, "different features give different maps");
    }

    [Fact]
    public void AttentionTransfer_BothConventions_MatchHandDerivedValues()
    {
        // Sample 0: student map ∝ [1, 0], teacher map ∝ [0, 1] → difference [1, −1]; sample 1: identical.
        using var scope = torch.NewDisposeScope();
        Tensor s = T([1, 0, 2, 2], 2, 1, 1, 2);
        Tensor t = T([0, 3, 1, 1], 2, 1, 1, 2);
        using var authors = new AttentionTransferLoss(OnePair, AttentionTransferMode.AuthorsCode);
        using var paper = new AttentionTransferLoss(OnePair, AttentionTransferMode.PaperEquation);

        // Authors' code: mean over 2 samples × 2 positions of the squared difference = (1 + 1 + 0 + 0) / 4.
        Value(authors, s, t).Should().BeApproximately(0.5f, 1e-6f);
        // Paper: ½ · mean over samples of ‖difference‖₂ = ½ · (√2 + 0) / 2.
        Value(paper, s, t).Should().BeApproximately((float)(Math.Sqrt(2) / 4), 1e-6f);
        authors.Weight.Should().Be(1000);
        paper.Weight.Should().Be(1);
    }

    [Fact]
    public void AttentionTransfer_DifferentSpatialSizes_PoolTheLargerMapDown()
    {
        using var scope = torch.NewDisposeScope();
        // Teacher 2×2 with values c; student 4×4 with each 2×2 block constant c: pooled |F|² equals the teacher's.
        float[] c = [1, 2, 3, 4];
        var student = new float[16];
        for (int y = 0; y < 4; y++)
        {
            for (int x = 0; x < 4; x++)
            {
                student[(y * 4) + x] = c[((y / 2) * 2) + (x / 2)];
            }
        }
        using var loss = new AttentionTransferLoss(OnePair);

        Value(loss, T(student, 1, 1, 4, 4), T(c, 1, 1, 2, 2)).Should().BeApproximately(0, 1e-6f);
        Value(loss, T(c, 1, 1, 2, 2), T(student, 1, 1, 4, 4)).Should().BeApproximately(0, 1e-6f, "either side can be the larger one");
        Value(loss, T([4, 3, 2, 1], 1, 1, 2, 2), T(student, 1, 1, 4, 4)).Should().BeGreaterThan(0.01f);
    }

    [Fact]
    public void AttentionTransfer_RejectsFeaturesThatAreNotMaps()
    {
        using var scope = torch.NewDisposeScope();
        using var loss = new AttentionTransferLoss(OnePair);
        var act = () => loss.Compute([torch.ones(2, 8)], [torch.ones(2, 8)]);
        act.Should().Throw<ArgumentException>().WithMessage("*4-D*s:t*");
    }

    [Fact]
    public void Losses_GradientReachesTheStudentButNeverTheTeacher()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(5);
        FeatureDistillationLoss[] losses =
        [
            new AttentionTransferLoss(OnePair), new AttentionTransferLoss(OnePair, AttentionTransferMode.PaperEquation),
            new SimilarityPreservingLoss(OnePair), new RelationalKdLoss(OnePair), new FitNetHintLoss(OnePair),
        ];
        foreach (FeatureDistillationLoss loss in losses)
        {
            Tensor s = torch.randn(4, 3, 4, 4).requires_grad_();
            Tensor t = torch.randn(4, 6, 4, 4).requires_grad_();
            loss.Compute([s], [t]).backward();
            s.grad.Should().NotBeNull(loss.Name);
            s.grad!.abs().sum().item<float>().Should().BeGreaterThan(0, loss.Name);
            s.grad.isfinite().all().item<bool>().Should().BeTrue(loss.Name);
            t.grad.Should().BeNull($"{loss.Name} detaches the teacher");
            loss.Dispose();
        }
    }

    [Fact]
    public void FitNet_CreatesItsRegressorFromTheObservedShapes_AndTrainsIt()
    {
        using var scope = torch.NewDisposeScope();
        using var maps = new FitNetHintLoss(OnePair, kernelSize: 3);
        Tensor s = torch.randn(2, 3, 6, 6).requires_grad_();
        maps.Regressors.Should().BeEmpty("the regressor is created from the first shapes it sees");

        maps.Compute([s], [torch.randn(2, 8, 3, 3)]).backward();

        maps.Regressors.Should().ContainSingle();
        maps.Parameters.Select(p => p.shape).First().Should().Equal(8, 3, 3, 3);
        maps.Parameters.Should().Contain(p => p.shape.SequenceEqual(new long[] { 8 }), "BatchNorm follows the convolution");
        maps.Parameters.All(p => p.grad is not null).Should().BeTrue("every regressor parameter receives a gradient");

        using var vectors = new FitNetHintLoss(OnePair);
        vectors.Compute([torch.randn(2, 5)], [torch.randn(2, 7)]);
        vectors.Parameters.Select(p => p.shape).Should().BeEquivalentTo(new[] { new long[] { 7, 5 }, new long[] { 7 } });
    }

    [Theory]
    [InlineData(HintDistance.Mse, 2.0)]
    [InlineData(HintDistance.SmoothL1, 0.75)]
    public void FitNet_WithAnIdentityRegressor_IsTheDistanceToTheHint(HintDistance distance, double expected)
    {
        using var scope = torch.NewDisposeScope();
        using var loss = new FitNetHintLoss(OnePair, distance: distance);
        Tensor s = T([1, 2], 1, 2), t = T([1, 4], 1, 2);
        loss.Initialize([[1, 2]], [[1, 2]], CPU);
        using (torch.no_grad())
        {
            loss.Parameters[0].copy_(torch.eye(2));
            loss.Parameters[1].zero_();
        }

        // Differences [0, 2]: MSE (0 + 4) / 2 = 2; smooth L1 (0 + (2 − ½)) / 2 = 0.75.
        Value(loss, s, t).Should().BeApproximately((float)expected, 1e-6f);
    }

    [Fact]
    public void SimilarityPreserving_MatchesTheHandDerivedValue_AndIgnoresScale()
    {
        using var scope = torch.NewDisposeScope();
        using var loss = new SimilarityPreservingLoss(OnePair);
        // Student G = I; teacher G = all ones → rows [1/√2, 1/√2]. ‖I − J/√2‖²_F / 4 = (2(1 − 1/√2)² + 2·½) / 4 = 1 − 1/√2.
        Value(loss, T([1, 0, 0, 1], 2, 2), T([1, 0, 1, 0], 2, 2)).Should().BeApproximately((float)(1 - (1 / Math.Sqrt(2))), 1e-6f);
        Tensor f = torch.randn(5, 2, 3, 3);
        Value(loss, f, f.mul(torch.tensor(3f))).Should().BeApproximately(0, 1e-6f);
        loss.Weight.Should().Be(3000);
    }

    [Fact]
    public void Rkd_DistanceTerm_MatchesTheHandDerivedValue()
    {
        using var scope = torch.NewDisposeScope();
        using var loss = new RelationalKdLoss(OnePair, distanceWeight: 1, angleWeight: 0);
        // Points 0, 1, 2 vs 0, 1, 3 on a line. Normalised distances (by the off-diagonal mean 4/3 and 2):
        // student [.75, 1.5, .75], teacher [.5, 1.5, 1]; four off-diagonal entries differ by .25 → smooth L1 4·(½·.25²) / 9.
        Value(loss, T([0, 1, 2], 3, 1), T([0, 1, 3], 3, 1)).Should().BeApproximately(0.125f / 9, 1e-6f);
    }

    [Fact]
    public void Rkd_Angles_MatchADirectComputation_AndTheLossIgnoresScale()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(11);
        const int B = 4, D = 3;
        Tensor x = torch.randn(B, D);
        float[] v = x.data<float>().ToArray();
        float[] angles = RelationalKdLoss.Angles(x).data<float>().ToArray();
        for (int a = 0; a < B; a++)
        {
            for (int b = 0; b < B; b++)
            {
                for (int c = 0; c < B; c++)
                {
                    double[] e1 = Unit(Enumerable.Range(0, D).Select(d => (double)v[(b * D) + d] - v[(a * D) + d]).ToArray());
                    double[] e2 = Unit(Enumerable.Range(0, D).Select(d => (double)v[(c * D) + d] - v[(a * D) + d]).ToArray());
                    double expected = e1.Zip(e2, (p, q) => p * q).Sum();
                    angles[(((a * B) + b) * B) + c].Should().BeApproximately((float)expected, 1e-4f, $"angle ({a}, {b}, {c})");
                }
            }
        }

        using var loss = new RelationalKdLoss(OnePair);
        Value(loss, x, x.mul(torch.tensor(7f))).Should().BeApproximately(0, 1e-5f);
        Value(loss, x, torch.randn(B, 9)).Should().BeGreaterThan(0.01f);
    }

    private static double[] Unit(double[] v)
    {
        double n = Math.Sqrt(v.Sum(e => e * e));
        return n == 0 ? v.Select(_ => 0.0).ToArray() : v.Select(e => e / n).ToArray();
    }

    [Fact]
    public void Constructors_RejectBadArguments()
    {
        FluentActions.Invoking(() => new AttentionTransferLoss([])).Should().Throw<ArgumentException>().WithMessage("*at least one*");
        FluentActions.Invoking(() => new AttentionTransferLoss(OnePair, p: 0)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("p");
        FluentActions.Invoking(() => new FitNetHintLoss(OnePair, kernelSize: 2)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("kernelSize");
        FluentActions.Invoking(() => new SimilarityPreservingLoss(OnePair, weight: -1)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("weight");
        FluentActions.Invoking(() => LayerPair.ParseList("block1")).Should().Throw<FormatException>().WithMessage("*student:teacher*");
        LayerPair.ParseList("block1:block1, block2:block3").Should().Equal(new LayerPair("block1", "block1"), new LayerPair("block2", "block3"));
    }
}
