using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Schedules;
using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.TorchSharp.Losses;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.Losses;

/// <summary>
/// Both forms of every library loss — the fused CPU kernels and TorchSharp operations through autograd — give the same
/// value, terms and gradient, on rows that include hostile ones (neutral shifts of ±300 and −3000, logits of ±1e3 and
/// ±1e4, a teacher whose top entries are at a mask value of −1e30) and with a row mask. The gradient is compared row by
/// row, each against its own largest entry. (Each form is also checked against a double-precision reference on hostile
/// rows: the kernels in the core tests, the TorchSharp operations in TorchHostileRowTests.)
/// </summary>
public sealed class TorchLossFormsTests
{
    private const int Rows = 10, Classes = 8;
    private static readonly bool[] Mask = [true, true, false, true, true, false, true, true, true, true];

    public static TheoryData<string> Cases() => ["ce", "hinton", "forward-kl", "reverse-kl", "jsd", "soft-ce", "topk-dense", "topk-sparse", "composite", "token-dense", "token-sparse", "token-reverse-sparse"];

    private static (ITorchLogitLoss Loss, bool Sparse) Create(string name) => name switch
    {
        "ce" => (TorchLosses.HardLabel(), false),
        "hinton" => (TorchLosses.Hinton(Schedule.Linear(0.9f, 0.5f), Schedule.Constant(2f)), false),
        "forward-kl" => (TorchLosses.SoftTarget(DivergenceKind.ForwardKl, Schedule.Constant(3f)), false),
        "reverse-kl" => (TorchLosses.SoftTarget(DivergenceKind.ReverseKl, Schedule.Constant(2f)), false),
        "jsd" => (TorchLosses.SoftTarget(DivergenceKind.JensenShannon, Schedule.Constant(1.5f), jsdBeta: 0.3f), false),
        "soft-ce" => (TorchLosses.SoftTarget(DivergenceKind.SoftTargetCrossEntropy, Schedule.Constant(2f), scaleByTemperatureSquared: false), false),
        "topk-dense" => (TorchLosses.TopKHinton(Schedule.Constant(0.7f), Schedule.Constant(2f), topK: 3), false),
        "topk-sparse" => (TorchLosses.TopKHinton(Schedule.Constant(0.7f), Schedule.Constant(1f)), true),
        "composite" => ((ITorchLogitLoss)TorchLosses.Composite([(TorchLosses.SoftTarget(DivergenceKind.ReverseKl, Schedule.Constant(2f)), Schedule.Constant(0.6f)), (TorchLosses.HardLabel(), Schedule.Constant(0.4f))]), false),
        "token-dense" => (new TokenDistillationLoss(Schedule.Constant(0.7f), Schedule.Constant(2f), new SequenceLossOptions { Kind = DivergenceKind.JensenShannon, JsdBeta = 0.4f }), false),
        "token-sparse" => (new TokenDistillationLoss(Schedule.Constant(0.7f), Schedule.Constant(1f)), true),
        _ => (new TokenDistillationLoss(Schedule.Constant(0.5f), Schedule.Constant(1f), new SequenceLossOptions { Kind = DivergenceKind.ReverseKl }), true),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedKernels_And_TorchOperations_AgreeOnValueTermsAndGradient(string name)
    {
        TorchSharpRuntime.EnsureInitialized();
        (ITorchLogitLoss loss, bool sparse) = Create(name);
        var random = new Random(name.Length * 31);
        float[] student = Enumerable.Range(0, Rows * Classes).Select(_ => (random.NextSingle() * 8) - 4).ToArray();
        float[] teacher = Enumerable.Range(0, Rows * Classes).Select(_ => (random.NextSingle() * 8) - 4).ToArray();
        for (int c = 0; c < Classes; c++)
        {
            student[(1 * Classes) + c] += 300;     // a neutral shift: softmax does not change
            teacher[(3 * Classes) + c] += 300;
            student[(4 * Classes) + c] *= 250;     // logits of about ±1e3 (with a sparse teacher's extra bucket too)
            student[(6 * Classes) + c] -= 3000;
            student[(7 * Classes) + c] *= 2500;    // about ±1e4
            student[(9 * Classes) + c] -= 300;
            teacher[(9 * Classes) + c] -= 3000;
        }
        for (int c = 0; c < 4; c++)
        {
            teacher[(8 * Classes) + c] = -1e30f;   // a teacher row partly at a mask value
        }
        int[] labels = Enumerable.Range(0, Rows).Select(_ => random.Next(Classes)).ToArray();
        const int k = 4;
        var indices = new int[Rows * k];
        var values = new float[Rows * k];
        if (sparse)
        {
            // The teacher's top-k log-probabilities at T = 1, as an API or a cache gives them.
            var logProbabilities = new float[teacher.Length];
            DistillationPrimitives.LogSoftmax(teacher, Classes, 1f, logProbabilities);
            DistillationPrimitives.TopK(logProbabilities, Classes, k, indices, values);
            values.AsSpan(8 * k, k).Fill(-1e30f);   // the teacher's top-k log-probabilities all at a mask value
        }

        var gradient = new float[student.Length];
        var cpuInputs = new LossInputs(student, sparse ? [] : teacher, labels, Classes, 2, 10, normalizer: 11)
        {
            Mask = Mask,
            TeacherTopK = sparse ? k : 0,
            TeacherTopKIndices = sparse ? indices : [],
            TeacherTopKValues = sparse ? values : [],
            TeacherTopKValueKind = TopKValueKind.LogProbabilities,
        };
        LossValue cpu = loss.Compute(cpuInputs, gradient);

        using var scope = torch.NewDisposeScope();
        Tensor s = torch.tensor(student, [Rows, Classes]).requires_grad_(true);
        var torchInputs = new TorchLossInputs(s, torch.tensor(labels.Select(l => (long)l).ToArray()), torch.tensor(Mask), 2, 10, 11)
        {
            TeacherLogits = sparse ? null : torch.tensor(teacher, [Rows, Classes]),
            TeacherTopKIndices = sparse ? torch.tensor(indices.Select(i => (long)i).ToArray(), [Rows, k]) : null,
            TeacherTopKValues = sparse ? torch.tensor(values, [Rows, k]) : null,
            TeacherTopKValueKind = TopKValueKind.LogProbabilities,
        };
        TorchLossValue onDevice = loss.ComputeOnDevice(torchInputs);
        onDevice.Loss.backward();
        float[] torchGradient = s.grad!.data<float>().ToArray();

        onDevice.Loss.item<float>().Should().BeApproximately(cpu.Total, 2e-4f * Math.Max(1, Math.Abs(cpu.Total)), name);
        onDevice.Terms.Keys.Should().BeEquivalentTo(cpu.Terms.Keys);
        foreach ((string key, float value) in cpu.Terms)
        {
            onDevice.Terms[key].item<float>().Should().BeApproximately(value, 2e-4f * Math.Max(1, Math.Abs(value)), $"{name}: term {key}");
        }
        onDevice.Parameters.Should().Equal(cpu.Parameters);
        for (int r = 0; r < Rows; r++)
        {
            float scale = Math.Max(1e-3f, gradient.AsSpan(r * Classes, Classes).ToArray().Max(Math.Abs));
            for (int c = 0; c < Classes; c++)
            {
                int i = (r * Classes) + c;
                torchGradient[i].Should().BeApproximately(gradient[i], 2e-4f * scale, $"{name}: gradient row {r}, element {c}");
            }
        }
        for (int r = 0; r < Rows; r++)
        {
            if (!Mask[r])
            {
                gradient.AsSpan(r * Classes, Classes).ToArray().Should().OnlyContain(g => g == 0f, $"{name}: row {r} is masked");
            }
        }
    }
}
