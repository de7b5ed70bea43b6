using FluentAssertions;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;

namespace KnowledgeDistillation.Tests.Losses;

public sealed class TopKHintonDistillationLossTests
{
    private const int Rows = 6, Classes = 11;

    private static (float[] Student, float[] Teacher, int[] Labels) Batch(int seed)
    {
        var r = new Random(seed);
        float[] s = Enumerable.Range(0, Rows * Classes).Select(_ => (r.NextSingle() * 8) - 4).ToArray();
        float[] t = Enumerable.Range(0, Rows * Classes).Select(_ => (r.NextSingle() * 8) - 4).ToArray();
        int[] y = Enumerable.Range(0, Rows).Select(_ => r.Next(Classes)).ToArray();
        return (s, t, y);
    }

    private static double[] LogSoftmax(IEnumerable<double> values)
    {
        double[] v = values.ToArray();
        double max = v.Max();
        double lse = max + Math.Log(v.Sum(z => Math.Exp(z - max)));
        return v.Select(z => z - lse).ToArray();
    }

    /// <summary>
    /// The documented approximation written densely from its definition: per row, the teacher restricted to its k largest
    /// logits and renormalised at T (p̂), the student's full log-softmax at T read at those classes;
    /// loss = α·T²·Σ p̂ (log p̂ − log p_s) / rows + (1 − α)·CE / rows, and its gradient by the chain rule.
    /// </summary>
    private static (double Loss, double[] Gradient) Reference(float[] s, float[] t, int[] y, int k, double temperature, double alpha, float normalizer)
    {
        double loss = 0;
        var gradient = new double[s.Length];
        for (int r = 0; r < y.Length; r++)
        {
            double[] teacher = Enumerable.Range(0, Classes).Select(c => (double)t[(r * Classes) + c]).ToArray();
            int[] top = Enumerable.Range(0, Classes).OrderByDescending(c => teacher[c]).ThenBy(c => c).Take(k).ToArray();
            double[] logTeacher = LogSoftmax(top.Select(c => teacher[c] / temperature));
            double[] logStudentT = LogSoftmax(Enumerable.Range(0, Classes).Select(c => s[(r * Classes) + c] / temperature));
            double[] logStudent1 = LogSoftmax(Enumerable.Range(0, Classes).Select(c => (double)s[(r * Classes) + c]));
            double kl = 0;
            for (int j = 0; j < k; j++)
            {
                kl += Math.Exp(logTeacher[j]) * (logTeacher[j] - logStudentT[top[j]]);
            }
            loss += (alpha * temperature * temperature * kl) - ((1 - alpha) * logStudent1[y[r]]);
            // d(T²·KL)/ds_c = T·(Σp̂·p_s(c) − p̂(c)); d(CE)/ds_c = p_s1(c) − [c = y].
            for (int c = 0; c < Classes; c++)
            {
                double teacherHere = 0;
                for (int j = 0; j < k; j++)
                {
                    teacherHere += top[j] == c ? Math.Exp(logTeacher[j]) : 0;
                }
                double kd = temperature * (Math.Exp(logStudentT[c]) - teacherHere);
                double ce = Math.Exp(logStudent1[c]) - (c == y[r] ? 1 : 0);
                gradient[(r * Classes) + c] = ((alpha * kd) + ((1 - alpha) * ce)) / normalizer;
            }
        }
        return (loss / normalizer, gradient);
    }

    [Theory]
    [InlineData(1, 1.0, 0.7)]
    [InlineData(3, 4.0, 0.9)]
    [InlineData(5, 2.0, 0.5)]
    [InlineData(11, 4.0, 1.0)]
    public void SparseTargets_MatchTheDenseDefinitionOfTheApproximation(int k, double temperature, double alpha)
    {
        (float[] s, float[] t, int[] y) = Batch(k);
        var indices = new int[Rows * k];
        var values = new float[Rows * k];
        DistillationPrimitives.TopK(t, Classes, k, indices, values);
        var loss = new TopKHintonDistillationLoss((float)alpha, (float)temperature, k);
        var gradient = new float[s.Length];
        LossValue value = loss.Compute(new LossInputs(s, [], y, Classes, 0, 10, normalizer: 8f)
        {
            TeacherTopK = k,
            TeacherTopKIndices = indices,
            TeacherTopKValues = values,
            TeacherTopKValueKind = TopKValueKind.Logits,
        }, gradient);

        (double expected, double[] expectedGradient) = Reference(s, t, y, k, temperature, alpha, 8f);
        value.Total.Should().BeApproximately((float)expected, 1e-5f);
        value.Parameters["alpha"].Should().Be((float)alpha);
        for (int i = 0; i < s.Length; i++)
        {
            gradient[i].Should().BeApproximately((float)expectedGradient[i], 1e-6f);
        }
    }

    [Fact]
    public void DenseTeacherLogits_AreReducedToTheSameTopK_AndKEqualToClassesIsExactlyHinton()
    {
        (float[] s, float[] t, int[] y) = Batch(42);
        var sparse = new int[Rows * 4];
        var sparseValues = new float[Rows * 4];
        DistillationPrimitives.TopK(t, Classes, 4, sparse, sparseValues);
        var loss = new TopKHintonDistillationLoss(0.8f, 3f, topK: 4);
        var fromDense = new float[s.Length];
        var fromSparse = new float[s.Length];
        LossValue dense = loss.Compute(new LossInputs(s, t, y, Classes, 0, 1), fromDense);
        LossValue topK = loss.Compute(new LossInputs(s, [], y, Classes, 0, 1) { TeacherTopK = 4, TeacherTopKIndices = sparse, TeacherTopKValues = sparseValues }, fromSparse);
        dense.Total.Should().Be(topK.Total);
        fromDense.Should().Equal(fromSparse);

        var hintonGradient = new float[s.Length];
        var allGradient = new float[s.Length];
        LossValue hinton = new HintonDistillationLoss(0.8f, 3f).Compute(new LossInputs(s, t, y, Classes, 0, 1), hintonGradient);
        LossValue all = new TopKHintonDistillationLoss(0.8f, 3f, topK: Classes).Compute(new LossInputs(s, t, y, Classes, 0, 1), allGradient);
        all.Total.Should().BeApproximately(hinton.Total, 1e-5f);
        for (int i = 0; i < s.Length; i++)
        {
            allGradient[i].Should().BeApproximately(hintonGradient[i], 1e-6f);
        }
    }

    [Fact]
    public void LogProbabilitiesWithTheExtraBucket_AtTemperatureOne_MatchTheDenseBucketDefinition()
    {
        (float[] s, float[] t, int[] y) = Batch(7);
        const int k = 3;
        var logProbabilities = new float[t.Length];
        DistillationPrimitives.LogSoftmax(t, Classes, 1f, logProbabilities);
        var indices = new int[Rows * k];
        var values = new float[Rows * k];
        DistillationPrimitives.TopK(logProbabilities, Classes, k, indices, values);
        var loss = new TopKHintonDistillationLoss(1f, 1f, k, TopKMassTreatment.ExtraBucket);
        LossValue value = loss.Compute(new LossInputs(s, [], y, Classes, 0, 1)
        {
            TeacherTopK = k,
            TeacherTopKIndices = indices,
            TeacherTopKValues = values,
            TeacherTopKValueKind = TopKValueKind.LogProbabilities,
        }, new float[s.Length]);

        // KL over k + 1 buckets: the teacher's k probabilities and its leftover, against the student's at the same classes and its rest.
        double expected = 0;
        for (int r = 0; r < Rows; r++)
        {
            double[] logStudent = LogSoftmax(Enumerable.Range(0, Classes).Select(c => (double)s[(r * Classes) + c]));
            int[] top = indices.AsSpan(r * k, k).ToArray();
            double teacherMass = 0, studentMass = 0;
            foreach (int c in top)
            {
                double p = Math.Exp(logProbabilities[(r * Classes) + c]);
                expected += p * (Math.Log(p) - logStudent[c]);
                teacherMass += p;
                studentMass += Math.Exp(logStudent[c]);
            }
            expected += (1 - teacherMass) * (Math.Log(1 - teacherMass) - Math.Log(1 - studentMass));
        }
        value.Total.Should().BeApproximately((float)(expected / Rows), 1e-5f);
    }

    [Fact]
    public void MissingTargets_AndDenseLossesGivenTopKTargets_FailWithClearMessages()
    {
        (float[] s, _, int[] y) = Batch(1);
        var loss = new TopKHintonDistillationLoss(0.5f, 2f);
        loss.Invoking(l => l.Compute(new LossInputs(s, [], y, Classes, 0, 1), new float[s.Length]))
            .Should().Throw<ArgumentException>().WithMessage("*needs teacher targets*");
        FluentActions.Invoking(() => new HintonDistillationLoss(0.5f, 2f).Compute(
                new LossInputs(s, [], y, Classes, 0, 1) { TeacherTopK = 1, TeacherTopKIndices = new int[Rows], TeacherTopKValues = new float[Rows] }, new float[s.Length]))
            .Should().Throw<ArgumentException>().WithMessage("*needs dense teacher logits, but the teacher targets are top-k*TopKHintonDistillationLoss*");
        FluentActions.Invoking(() => new TopKHintonDistillationLoss(0.5f, 2f, topK: 0)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*k*at least 1*");
    }
}
