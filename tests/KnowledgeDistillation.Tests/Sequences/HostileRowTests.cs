using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Schedules;
using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.Tests.Reference;

namespace KnowledgeDistillation.Tests.Sequences;

/// <summary>
/// The sparse top-k and sequence losses on the CPU kernels against the double-precision reference, on hostile but legal
/// rows (<see cref="HostileRows"/>): teacher entries at mask values, students with mask values outside the top-k (their
/// leftover underflows: the gradient outside is still the true one), logits of ±1e3 and ±1e4, rows near −1e4, neutral
/// shifts of ±300 and ±3000. Each row is one call, so a failure names the row.
/// </summary>
public sealed class HostileRowTests
{
    private const float Temperature = 2f;
    private const double Relative = 2e-5;

    public static TheoryData<TopKValueKind, TopKMassTreatment, bool> KernelVariants()
    {
        var data = new TheoryData<TopKValueKind, TopKMassTreatment, bool>();
        foreach (TopKValueKind kind in Enum.GetValues<TopKValueKind>())
        {
            foreach (TopKMassTreatment treatment in Enum.GetValues<TopKMassTreatment>())
            {
                data.Add(kind, treatment, false);
                data.Add(kind, treatment, true);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(KernelVariants))]
    public void SparseTopKKernel_OnHostileRows_MatchesTheDoubleReference(TopKValueKind valueKind, TopKMassTreatment treatment, bool crossEntropy)
    {
        foreach (HostileRow row in HostileRows.All())
        {
            float[] values = valueKind == TopKValueKind.Logits ? row.TeacherLogits : row.TeacherLogProbabilities;
            var gradient = new float[HostileRows.Classes];
            float loss = DistillationPrimitives.SparseTopKWithGradient(
                row.Student, row.Indices, values, HostileRows.Classes, HostileRows.K, Temperature, valueKind, treatment, crossEntropy, gradient, new KernelOptions { Reduction = LossReduction.Sum });

            (double expected, double[] reference) = SparseReference.SparseRow(
                row.Student, row.Indices, values, Temperature, valueKind, treatment, crossEntropy ? DivergenceKind.SoftTargetCrossEntropy : DivergenceKind.ForwardKl, 0);
            string what = $"{row.Name} ({valueKind}, {treatment}, {(crossEntropy ? "CE" : "KL")})";
            Tolerance.Close(loss, expected, Relative, 1e-6, $"{what}: loss");
            Tolerance.RowClose(gradient, reference, Relative, 1e-3, $"{what}: gradient");
        }
    }

    public static TheoryData<DivergenceKind, TopKMassTreatment, TopKValueKind> SequenceVariants()
    {
        var data = new TheoryData<DivergenceKind, TopKMassTreatment, TopKValueKind>();
        foreach (DivergenceKind kind in new[] { DivergenceKind.ForwardKl, DivergenceKind.SoftTargetCrossEntropy, DivergenceKind.ReverseKl, DivergenceKind.JensenShannon })
        {
            data.Add(kind, TopKMassTreatment.ExtraBucket, TopKValueKind.LogProbabilities);
            data.Add(kind, TopKMassTreatment.Renormalize, TopKValueKind.LogProbabilities);
            data.Add(kind, TopKMassTreatment.Renormalize, TopKValueKind.Logits);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(SequenceVariants))]
    public void SequenceSparse_OnHostileRows_MatchesTheDoubleReference(DivergenceKind kind, TopKMassTreatment treatment, TopKValueKind valueKind)
    {
        var options = new SequenceLossOptions { Kind = kind, Temperature = Temperature, JsdBeta = 0.4f, TopKTreatment = treatment };
        foreach (HostileRow row in HostileRows.All())
        {
            float[] values = valueKind == TopKValueKind.Logits ? row.TeacherLogits : row.TeacherLogProbabilities;
            var gradient = new float[HostileRows.Classes];
            SequenceLossValue value = SequenceDistillation.SparseWithGradient(row.Student, HostileRows.Classes, row.Indices, values, HostileRows.K, valueKind, [true], options, gradient);

            (double expected, double[] reference) = SparseReference.SparseRow(row.Student, row.Indices, values, Temperature, valueKind, treatment, kind, 0.4);
            double scale = Temperature * Temperature; // T², one valid token
            string what = $"{row.Name} ({kind}, {treatment}, {valueKind})";
            Tolerance.Close(value.Loss, expected * scale, Relative, 1e-6, $"{what}: loss");
            Tolerance.RowClose(gradient, [.. reference.Select(g => g * scale)], Relative, 1e-3, $"{what}: gradient");
        }
    }

    [Theory]
    [InlineData(DivergenceKind.ForwardKl)]
    [InlineData(DivergenceKind.SoftTargetCrossEntropy)]
    [InlineData(DivergenceKind.ReverseKl)]
    [InlineData(DivergenceKind.JensenShannon)]
    public void SequenceDense_OnHostileRows_MatchesTheDoubleReference(DivergenceKind kind)
    {
        var options = new SequenceLossOptions { Kind = kind, Temperature = Temperature, JsdBeta = 0.4f };
        foreach (HostileRow row in HostileRows.All())
        {
            // The teacher's full row, with its top-k at the row's mask values where the row has them.
            float[] teacher = DenseTeacher(row);
            var gradient = new float[HostileRows.Classes];
            SequenceLossValue value = SequenceDistillation.DenseWithGradient(row.Student, HostileRows.Classes, teacher, HostileRows.Classes, [true], options, gradient);

            (double expected, double[] reference) = SparseReference.DenseRow(row.Student, teacher, Temperature, kind, 0.4);
            double scale = Temperature * Temperature;
            Tolerance.Close(value.Loss, expected * scale, Relative, 1e-6, $"{row.Name} ({kind}): loss");
            Tolerance.RowClose(gradient, [.. reference.Select(g => g * scale)], Relative, 1e-3, $"{row.Name} ({kind}): gradient");
        }
    }

    [Fact]
    public void TopKHintonLoss_OnHostileRows_MatchesTheDoubleReference_WithRetemperedLogProbabilities()
    {
        // α = 1: the kd term alone. At T = 2 stored log-probabilities are re-tempered over the k entries and renormalised.
        var loss = new TopKHintonDistillationLoss(Schedule.Constant(1f), Schedule.Constant(Temperature));
        foreach (HostileRow row in HostileRows.All())
        {
            var gradient = new float[HostileRows.Classes];
            var inputs = new LossInputs(row.Student, [], [row.Indices[0]], HostileRows.Classes, 0, 1)
            {
                TeacherTopK = HostileRows.K,
                TeacherTopKIndices = row.Indices,
                TeacherTopKValues = row.TeacherLogProbabilities,
                TeacherTopKValueKind = TopKValueKind.LogProbabilities,
            };
            LossValue value = loss.Compute(inputs, gradient);

            // Re-tempered log-probabilities are log-softmax(log p / T) over the k entries: logits log p at temperature T.
            (double expected, double[] reference) = SparseReference.SparseRow(
                row.Student, row.Indices, row.TeacherLogProbabilities, Temperature, TopKValueKind.Logits, TopKMassTreatment.Renormalize, DivergenceKind.ForwardKl, 0);
            double scale = Temperature * Temperature;
            Tolerance.Close(value.Terms["kd"], expected * scale, Relative, 1e-6, $"{row.Name}: kd");
            Tolerance.RowClose(gradient, [.. reference.Select(g => g * scale)], Relative, 1e-3, $"{row.Name}: gradient");
        }
    }

    internal static float[] DenseTeacher(HostileRow row)
    {
        float[] teacher = (float[])row.TeacherRow.Clone();
        for (int i = 0; i < HostileRows.K; i++)
        {
            if (row.TeacherLogits[i] == HostileRows.Mask)
            {
                teacher[row.Indices[i]] = HostileRows.Mask;
            }
        }
        return teacher;
    }
}
