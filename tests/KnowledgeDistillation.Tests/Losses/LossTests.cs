using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Schedules;

namespace KnowledgeDistillation.Tests.Losses;

public sealed class LossTests
{
    private static (float[] Student, float[] Teacher, int[] Labels) Batch(int rows, int classes, int seed)
    {
        var r = new Random(seed);
        float[] s = Enumerable.Range(0, rows * classes).Select(_ => (r.NextSingle() * 6) - 3).ToArray();
        float[] t = Enumerable.Range(0, rows * classes).Select(_ => (r.NextSingle() * 6) - 3).ToArray();
        int[] y = Enumerable.Range(0, rows).Select(_ => r.Next(classes)).ToArray();
        return (s, t, y);
    }

    /// <summary>Independent double-precision Hinton loss, written here from the definition.</summary>
    private static double ReferenceHinton(float[] s, float[] t, int[] y, int classes, double temperature, double alpha)
    {
        double kd = 0, ce = 0;
        for (int r = 0; r < y.Length; r++)
        {
            double[] ls = LogSoftmax(s, r, classes, temperature), lt = LogSoftmax(t, r, classes, temperature), l1 = LogSoftmax(s, r, classes, 1);
            for (int c = 0; c < classes; c++)
            {
                kd += Math.Exp(lt[c]) * (lt[c] - ls[c]);
            }
            ce -= l1[y[r]];
        }
        return ((alpha * temperature * temperature * kd) + ((1 - alpha) * ce)) / y.Length;
    }

    private static double[] LogSoftmax(float[] x, int row, int classes, double t)
    {
        double[] v = Enumerable.Range(0, classes).Select(c => x[(row * classes) + c] / t).ToArray();
        double max = v.Max();
        double lse = max + Math.Log(v.Sum(z => Math.Exp(z - max)));
        return v.Select(z => z - lse).ToArray();
    }

    [Fact]
    public void Hinton_MatchesAnIndependentReference_AndItsGradientMatchesFiniteDifferences()
    {
        (float[] s, float[] t, int[] y) = Batch(4, 7, 1);
        var loss = new HintonDistillationLoss(0.7f, 3f);
        var grad = new float[s.Length];

        LossValue v = loss.Compute(new LossInputs(s, t, y, 7, 0, 10), grad);

        v.Total.Should().BeApproximately((float)ReferenceHinton(s, t, y, 7, 3, 0.7), 1e-5f);
        v.Parameters["alpha"].Should().Be(0.7f);
        v.Parameters["temperature"].Should().Be(3f);
        for (int i = 0; i < s.Length; i += 5)
        {
            float[] plus = (float[])s.Clone(), minus = (float[])s.Clone();
            plus[i] += 1e-2f;
            minus[i] -= 1e-2f;
            double numeric = (ReferenceHinton(plus, t, y, 7, 3, 0.7) - ReferenceHinton(minus, t, y, 7, 3, 0.7)) / 2e-2;
            grad[i].Should().BeApproximately((float)numeric, 2e-4f);
        }
    }

    [Fact]
    public void Hinton_FollowsItsSchedules()
    {
        (float[] s, float[] t, int[] y) = Batch(2, 5, 2);
        var loss = new HintonDistillationLoss(Schedule.Linear(1, 0), Schedule.Piecewise(4, 1));
        var grad = new float[s.Length];
        LossValue first = loss.Compute(new LossInputs(s, t, y, 5, 0, 10), grad);
        LossValue last = loss.Compute(new LossInputs(s, t, y, 5, 9, 10), grad);
        first.Parameters["alpha"].Should().Be(1);
        first.Parameters["temperature"].Should().Be(4);
        first.Total.Should().BeApproximately(first.Terms["kd"], 1e-6f);
        last.Parameters["alpha"].Should().Be(0);
        last.Parameters["temperature"].Should().Be(1);
        last.Total.Should().BeApproximately(last.Terms["ce"], 1e-6f);
    }

    [Fact]
    public void Normalizer_ScalesLossAndGradient_ForGradientAccumulation()
    {
        (float[] s, float[] t, int[] y) = Batch(4, 6, 3);
        var loss = new HintonDistillationLoss(0.5f, 2f);
        var perBatch = new float[s.Length];
        var accumulated = new float[s.Length];
        LossValue a = loss.Compute(new LossInputs(s, t, y, 6, 0, 1), perBatch);
        LossValue b = loss.Compute(new LossInputs(s, t, y, 6, 0, 1, normalizer: 16), accumulated);
        b.Total.Should().BeApproximately(a.Total * 4 / 16, 1e-6f);
        accumulated.Zip(perBatch, (x, z) => x - (z * 4 / 16)).Should().OnlyContain(d => Math.Abs(d) < 1e-7);
    }

    [Fact]
    public void Composite_SumsWeightedTerms_AndReportsEach()
    {
        (float[] s, float[] t, int[] y) = Batch(3, 4, 4);
        var hinton = new HintonDistillationLoss(1f, 2f);
        var ce = new HardLabelLoss();
        var composite = new CompositeDistillationLoss([(hinton, Schedule.Constant(0.25f)), (ce, Schedule.Constant(2f))]);
        var g = new float[s.Length];
        var g1 = new float[s.Length];
        var g2 = new float[s.Length];

        LossValue v = composite.Compute(new LossInputs(s, t, y, 4, 0, 1), g);
        LossValue v1 = hinton.Compute(new LossInputs(s, t, y, 4, 0, 1), g1);
        LossValue v2 = ce.Compute(new LossInputs(s, t, y, 4, 0, 1), g2);

        v.Total.Should().BeApproximately((0.25f * v1.Total) + (2 * v2.Total), 1e-5f);
        v.Terms["hinton"].Should().Be(v1.Total);
        v.Terms["ce"].Should().Be(v2.Total);
        v.Parameters["hinton.weight"].Should().Be(0.25f);
        v.Terms["hinton.kd"].Should().Be(v1.Terms["kd"]);
        for (int i = 0; i < g.Length; i++)
        {
            g[i].Should().BeApproximately((0.25f * g1[i]) + (2 * g2[i]), 1e-6f);
        }
    }

    [Fact]
    public void ForwardKlSoftTargets_PlusHardLabels_EqualHinton()
    {
        (float[] s, float[] t, int[] y) = Batch(5, 9, 6);
        var composite = new CompositeDistillationLoss(
        [
            (new SoftTargetLoss(DivergenceKind.ForwardKl, Schedule.Constant(3)), Schedule.Constant(0.7f)),
            (new HardLabelLoss(), Schedule.Constant(0.3f)),
        ]);
        var g1 = new float[s.Length];
        var g2 = new float[s.Length];
        LossValue a = composite.Compute(new LossInputs(s, t, y, 9, 0, 1), g1);
        LossValue b = new HintonDistillationLoss(0.7f, 3f).Compute(new LossInputs(s, t, y, 9, 0, 1), g2);
        a.Total.Should().BeApproximately(b.Total, 1e-5f);
        a.Terms["forward_kl"].Should().BeApproximately(b.Terms["kd"], 1e-5f);
        g1.Zip(g2, (p, q) => Math.Abs(p - q)).Max().Should().BeLessThan(1e-6f);
    }

    [Fact]
    public void Jsd_AtItsEnds_IsForwardAndReverseKl()
    {
        (float[] s, float[] t, int[] y) = Batch(3, 6, 7);
        float Value(DivergenceKind kind, float beta = 0.5f) =>
            new SoftTargetLoss(kind, Schedule.Constant(2), beta).Compute(new LossInputs(s, t, y, 6, 0, 1), new float[s.Length]).Total;
        Value(DivergenceKind.JensenShannon, 0).Should().BeApproximately(Value(DivergenceKind.ForwardKl), 1e-5f);
        Value(DivergenceKind.JensenShannon, 1).Should().BeApproximately(Value(DivergenceKind.ReverseKl), 1e-5f);
        Value(DivergenceKind.JensenShannon, 0.5f).Should().BeLessThan(Value(DivergenceKind.ForwardKl));
    }

    [Fact]
    public void DecoupledKd_ReportsItsTerm_AndNeedsATeacher()
    {
        (float[] s, float[] t, int[] y) = Batch(3, 5, 8);
        LossValue v = new DecoupledKdLoss(1, 8).Compute(new LossInputs(s, t, y, 5, 0, 1), new float[s.Length]);
        v.Total.Should().BePositive();
        v.Terms["dkd"].Should().Be(v.Total);
        LossValue same = new DecoupledKdLoss(1, 8).Compute(new LossInputs(t, t, y, 5, 0, 1), new float[s.Length]);
        same.Total.Should().BeApproximately(0, 1e-5f, "identical teacher and student have nothing to transfer");
        Action bad = () => _ = new DecoupledKdLoss(-1, 8);
        bad.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("alpha");
    }

    [Fact]
    public void BadHyperParameters_AndMissingTeacher_AreClearErrors()
    {
        Action alpha = () => _ = new HintonDistillationLoss(1.5f, 2f);
        alpha.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*[0, 1]*");
        Action temperature = () => _ = new HintonDistillationLoss(0.5f, 0f);
        temperature.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*positive*");
        Action nanTemperature = () => _ = new HintonDistillationLoss(0.5f, float.NaN);
        nanTemperature.Should().Throw<ArgumentOutOfRangeException>();

        (float[] s, _, int[] y) = Batch(2, 3, 5);
        Action noTeacher = () => new HintonDistillationLoss(0.5f, 2f).Compute(new LossInputs(s, [], y, 3, 0, 1), new float[s.Length]);
        noTeacher.Should().Throw<ArgumentException>().WithMessage("*needs teacher logits*");

        Action duplicate = () => _ = new CompositeDistillationLoss([(new HardLabelLoss(), Schedule.Constant(1)), (new HardLabelLoss(), Schedule.Constant(1))]);
        duplicate.Should().Throw<ArgumentException>().WithMessage("*named 'ce'*");
    }
}
