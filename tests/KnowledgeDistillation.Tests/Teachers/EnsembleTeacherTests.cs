using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Teachers;

namespace KnowledgeDistillation.Tests.Teachers;

public sealed class EnsembleTeacherTests
{
    private const int Classes = 5;

    /// <summary>A teacher whose logits are a fixed function of the input rows.</summary>
    private sealed class FixedTeacher(string name, float[] logits, int classes = Classes) : ITeacher
    {
        public int Calls { get; private set; }

        public bool Disposed { get; private set; }

        public ModelMetadata Metadata { get; } = new(name, classes, 10, []);

        public ValueTask<ModelOutput> InferAsync(Float32Tensor inputs, IReadOnlyCollection<string>? intermediates = null, CancellationToken cancellationToken = default)
        {
            Calls++;
            return ValueTask.FromResult(new ModelOutput(new Float32Tensor(logits, logits.Length / classes, classes)));
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose() => Disposed = true;
    }

    private static float[] RandomLogits(int seed, int rows, float scale = 3f)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows * Classes).Select(_ => (float)((random.NextDouble() * 2) - 1) * scale).ToArray();
    }

    private static double[] Softmax(float[] logits, int row)
    {
        double max = logits.Skip(row * Classes).Take(Classes).Max();
        double[] e = logits.Skip(row * Classes).Take(Classes).Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private static Float32Tensor Inputs(int rows) => new(new float[rows * 3], rows, 3);

    [Fact]
    public async Task AverageProbabilities_IsTheWeightedMixture_AsLogProbabilities()
    {
        const int rows = 4;
        float[][] members = [RandomLogits(1, rows), RandomLogits(2, rows), RandomLogits(3, rows)];
        double[] weights = [1, 2, 1];
        using var ensemble = new EnsembleTeacher(
            members.Select((m, i) => new FixedTeacher($"t{i}", m)), new EnsembleTeacherOptions { Weights = weights });

        float[] output = (await ensemble.InferAsync(Inputs(rows))).Logits.Data.ToArray();

        for (int row = 0; row < rows; row++)
        {
            double[] mixture = new double[Classes];
            for (int i = 0; i < members.Length; i++)
            {
                double[] p = Softmax(members[i], row);
                for (int k = 0; k < Classes; k++)
                {
                    mixture[k] += weights[i] / 4 * p[k];
                }
            }
            for (int k = 0; k < Classes; k++)
            {
                output[(row * Classes) + k].Should().BeApproximately((float)Math.Log(mixture[k]), 2e-6f);
            }
        }
        ensemble.Weights.Should().Equal(0.25, 0.5, 0.25);
        ensemble.Metadata.Name.Should().Be("ensemble(t0, t1, t2)");
        ensemble.Metadata.ParameterCount.Should().Be(30);
    }

    [Fact]
    public async Task AverageLogits_IsTheWeightedMeanOfLogits()
    {
        float[] a = RandomLogits(4, 3), b = RandomLogits(5, 3);
        using var ensemble = new EnsembleTeacher(
            [new FixedTeacher("a", a), new FixedTeacher("b", b)],
            new EnsembleTeacherOptions { Combination = EnsembleCombination.AverageLogits, Weights = [3, 1] });

        float[] output = (await ensemble.InferAsync(Inputs(3))).Logits.Data.ToArray();

        output.Select((v, j) => Math.Abs(v - ((0.75f * a[j]) + (0.25f * b[j])))).Max().Should().BeLessThan(1e-6f);
    }

    [Fact]
    public async Task WeightByConfidence_WeighsEachSampleByEachMembersLargestProbability()
    {
        const int rows = 3;
        float[] sure = RandomLogits(6, rows, scale: 8), unsure = RandomLogits(7, rows, scale: 0.5f);
        using var ensemble = new EnsembleTeacher(
            [new FixedTeacher("sure", sure), new FixedTeacher("unsure", unsure)], new EnsembleTeacherOptions { WeightByConfidence = true });

        float[] output = (await ensemble.InferAsync(Inputs(rows))).Logits.Data.ToArray();

        for (int row = 0; row < rows; row++)
        {
            double[] p = Softmax(sure, row), q = Softmax(unsure, row);
            double cp = p.Max(), cq = q.Max();
            for (int k = 0; k < Classes; k++)
            {
                double expected = ((cp * p[k]) + (cq * q[k])) / (cp + cq);
                output[(row * Classes) + k].Should().BeApproximately((float)Math.Log(expected), 2e-6f);
            }
        }
    }

    [Fact]
    public async Task ACertainMember_GivesFiniteLogProbabilities()
    {
        float[] certain = [1e4f, -1e4f, 0, 0, 0];
        float[] other = [0, 1, 2, 3, 4];
        using var ensemble = new EnsembleTeacher([new FixedTeacher("certain", certain), new FixedTeacher("other", other)]);

        float[] output = (await ensemble.InferAsync(Inputs(1))).Logits.Data.ToArray();

        output.Should().OnlyContain(v => float.IsFinite(v));
        // Class 1 has probability 0 under the certain member: the mixture keeps half of the other's mass there.
        output[1].Should().BeApproximately((float)Math.Log(0.5 * Softmax(other, 0)[1]), 1e-5f);
    }

    [Fact]
    public async Task AMemberWithWeightZero_IsNotRun_AndOneMemberGivesItsLogSoftmax()
    {
        float[] a = RandomLogits(8, 2);
        var used = new FixedTeacher("used", a);
        var skipped = new FixedTeacher("skipped", RandomLogits(9, 2));
        using var ensemble = new EnsembleTeacher([used, skipped], new EnsembleTeacherOptions { Weights = [1, 0] });

        float[] output = (await ensemble.InferAsync(Inputs(2))).Logits.Data.ToArray();

        skipped.Calls.Should().Be(0);
        used.Calls.Should().Be(1);
        for (int row = 0; row < 2; row++)
        {
            double[] p = Softmax(a, row);
            for (int k = 0; k < Classes; k++)
            {
                output[(row * Classes) + k].Should().BeApproximately((float)Math.Log(p[k]), 2e-6f);
            }
        }
    }

    [Fact]
    public void BadSetups_AreRejectedWithMessagesThatNameTheProblem()
    {
        var a = new FixedTeacher("a", RandomLogits(1, 1));
        var b = new FixedTeacher("b", new float[3], classes: 3);

        FluentActions.Invoking(() => new EnsembleTeacher([])).Should().Throw<ArgumentException>().WithMessage("*at least one*");
        FluentActions.Invoking(() => new EnsembleTeacher([a, b])).Should().Throw<ArgumentException>().WithMessage("*'a' 5, 'b' 3*");
        FluentActions.Invoking(() => new EnsembleTeacher([a, a], new EnsembleTeacherOptions { Weights = [1] }))
            .Should().Throw<ArgumentException>().WithMessage("*1 entries but the ensemble has 2 members*");
        FluentActions.Invoking(() => new EnsembleTeacher([a, a], new EnsembleTeacherOptions { Weights = [1, double.NaN] }))
            .Should().Throw<ArgumentException>().WithMessage("*Weights[1] must be finite and non-negative (was NaN)*");
        FluentActions.Invoking(() => new EnsembleTeacher([a, a], new EnsembleTeacherOptions { Weights = [0, 0] }))
            .Should().Throw<ArgumentException>().WithMessage("*must not all be 0*");
        FluentActions.Invoking(() => new EnsembleTeacher([a, null!])).Should().Throw<ArgumentException>().WithMessage("*Teacher 1*null*");
    }

    [Fact]
    public async Task WrongShapesAndIntermediates_FailClearly()
    {
        using var ensemble = new EnsembleTeacher([new FixedTeacher("a", RandomLogits(1, 2)), new FixedTeacher("b", RandomLogits(2, 3))], new EnsembleTeacherOptions { DisposeMembers = false });

        await FluentActions.Awaiting(() => ensemble.InferAsync(Inputs(2)).AsTask())
            .Should().ThrowAsync<InvalidOperationException>().WithMessage("*member 1 ('b')*[3, 5]*expected [2, 5]*");
        await FluentActions.Awaiting(() => ensemble.InferAsync(Inputs(2), ["block1"]).AsTask())
            .Should().ThrowAsync<ArgumentException>().WithMessage("*block1*one member*");
    }

    [Fact]
    public void Dispose_DisposesMembersOnlyWhenOwned()
    {
        var owned = new FixedTeacher("a", RandomLogits(1, 1));
        var borrowed = new FixedTeacher("b", RandomLogits(1, 1));
        new EnsembleTeacher([owned]).Dispose();
        new EnsembleTeacher([borrowed], new EnsembleTeacherOptions { DisposeMembers = false }).Dispose();

        owned.Disposed.Should().BeTrue();
        borrowed.Disposed.Should().BeFalse();
    }
}
