using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.Tests.Reference;
using KnowledgeDistillation.TorchSharp.LanguageModels;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.TorchSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.LanguageModels;

/// <summary>
/// The sequence losses on both paths — TorchSharp operations through autograd, and the fused kernels behind the same
/// call — against the core tests' double-precision reference, on hostile but legal rows (<see cref="HostileRows"/>): teacher
/// entries at mask values, students with mask values outside the top-k, logits of ±1e3 and ±1e4, rows near −1e4, neutral
/// shifts of ±300 and ±3000. One row per call, so a failure names the row.
/// </summary>
public sealed class TorchHostileRowTests
{
    private const float Temperature = 2f;
    private const double Relative = 2e-5;

    public static TheoryData<DivergenceKind, TopKMassTreatment, TopKValueKind, LogitLossPath> SparseCases()
    {
        var data = new TheoryData<DivergenceKind, TopKMassTreatment, TopKValueKind, LogitLossPath>();
        foreach (LogitLossPath path in new[] { LogitLossPath.TorchOperations, LogitLossPath.FusedCpuKernels })
        {
            foreach (DivergenceKind kind in new[] { DivergenceKind.ForwardKl, DivergenceKind.SoftTargetCrossEntropy, DivergenceKind.ReverseKl, DivergenceKind.JensenShannon })
            {
                data.Add(kind, TopKMassTreatment.ExtraBucket, TopKValueKind.LogProbabilities, path);
                data.Add(kind, TopKMassTreatment.Renormalize, TopKValueKind.LogProbabilities, path);
                data.Add(kind, TopKMassTreatment.Renormalize, TopKValueKind.Logits, path);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(SparseCases))]
    public void SparseTopK_OnHostileRows_MatchesTheDoubleReference(DivergenceKind kind, TopKMassTreatment treatment, TopKValueKind valueKind, LogitLossPath path)
    {
        TorchSharpRuntime.EnsureInitialized();
        var options = new SequenceLossOptions { Kind = kind, Temperature = Temperature, JsdBeta = 0.4f, TopKTreatment = treatment };
        foreach (HostileRow row in HostileRows.All())
        {
            using var scope = NewDisposeScope();
            float[] values = valueKind == TopKValueKind.Logits ? row.TeacherLogits : row.TeacherLogProbabilities;
            Tensor s = torch.tensor(row.Student, [1, 1, HostileRows.Classes]).requires_grad_(true);
            Tensor loss = TorchSequenceLosses.SparseTopK(
                s, torch.tensor(row.Indices.Select(i => (long)i).ToArray(), [1, 1, HostileRows.K]), torch.tensor(values, [1, 1, HostileRows.K]), valueKind,
                torch.tensor(new[] { true }, [1, 1]), options, path: path);
            loss.backward();

            (double expected, double[] reference) = SparseReference.SparseRow(row.Student, row.Indices, values, Temperature, valueKind, treatment, kind, 0.4);
            double scale = Temperature * Temperature;
            string what = $"{row.Name} ({kind}, {treatment}, {valueKind}, {path})";
            Tolerance.Close(loss.item<float>(), expected * scale, Relative, 1e-6, $"{what}: loss");
            Tolerance.RowClose(s.grad!.data<float>().ToArray(), [.. reference.Select(g => g * scale)], Relative, 1e-3, $"{what}: gradient");
        }
    }

    [Theory]
    [InlineData(DivergenceKind.ForwardKl, LogitLossPath.TorchOperations)]
    [InlineData(DivergenceKind.ReverseKl, LogitLossPath.TorchOperations)]
    [InlineData(DivergenceKind.JensenShannon, LogitLossPath.TorchOperations)]
    [InlineData(DivergenceKind.SoftTargetCrossEntropy, LogitLossPath.TorchOperations)]
    [InlineData(DivergenceKind.ForwardKl, LogitLossPath.FusedCpuKernels)]
    [InlineData(DivergenceKind.JensenShannon, LogitLossPath.FusedCpuKernels)]
    public void Dense_OnHostileRows_MatchesTheDoubleReference(DivergenceKind kind, LogitLossPath path)
    {
        TorchSharpRuntime.EnsureInitialized();
        var options = new SequenceLossOptions { Kind = kind, Temperature = Temperature, JsdBeta = 0.4f };
        foreach (HostileRow row in HostileRows.All())
        {
            using var scope = NewDisposeScope();
            float[] teacher = (float[])row.TeacherRow.Clone();
            for (int i = 0; i < HostileRows.K; i++)
            {
                teacher[row.Indices[i]] = row.TeacherLogits[i] == HostileRows.Mask ? HostileRows.Mask : teacher[row.Indices[i]];
            }
            Tensor s = torch.tensor(row.Student, [1, 1, HostileRows.Classes]).requires_grad_(true);
            Tensor loss = TorchSequenceLosses.Dense(s, torch.tensor(teacher, [1, 1, HostileRows.Classes]), torch.tensor(new[] { true }, [1, 1]), options, path: path);
            loss.backward();

            (double expected, double[] reference) = SparseReference.DenseRow(row.Student, teacher, Temperature, kind, 0.4);
            double scale = Temperature * Temperature;
            Tolerance.Close(loss.item<float>(), expected * scale, Relative, 1e-6, $"{row.Name} ({kind}, {path}): loss");
            Tolerance.RowClose(s.grad!.data<float>().ToArray(), [.. reference.Select(g => g * scale)], Relative, 1e-3, $"{row.Name} ({kind}, {path}): gradient");
        }
    }
}
