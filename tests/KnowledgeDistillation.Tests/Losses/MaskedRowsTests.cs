using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Schedules;

namespace KnowledgeDistillation.Tests.Losses;

/// <summary>Every row loss honours a row mask: masked rows (padding, prompt tokens) add neither loss nor gradient.</summary>
public sealed class MaskedRowsTests
{
    private const int Classes = 6;

    public static TheoryData<string> Losses() => ["hinton", "reverse-kl", "dkd", "topk", "ce", "composite"];

    private static IDistillationLoss Create(string name) => name switch
    {
        "hinton" => new HintonDistillationLoss(0.6f, 2f),
        "reverse-kl" => new SoftTargetLoss(DivergenceKind.ReverseKl, Schedule.Constant(2f)),
        "dkd" => new DecoupledKdLoss(1, 8, Schedule.Constant(2)),
        "topk" => new TopKHintonDistillationLoss(0.6f, 2f, topK: 3),
        "ce" => new HardLabelLoss(),
        _ => new CompositeDistillationLoss([(new SoftTargetLoss(DivergenceKind.JensenShannon, Schedule.Constant(1f)), Schedule.Constant(0.5f)), (new HardLabelLoss(), Schedule.Constant(0.5f))]),
    };

    [Theory]
    [MemberData(nameof(Losses))]
    public void AMaskedBatch_EqualsTheLossOfItsUnmaskedRows_AndMaskedRowsGetZeroGradient(string name)
    {
        var random = new Random(3);
        const int rows = 7;
        bool[] mask = [true, false, true, true, false, false, true];
        float[] student = Enumerable.Range(0, rows * Classes).Select(_ => (random.NextSingle() * 8) - 4).ToArray();
        float[] teacher = Enumerable.Range(0, rows * Classes).Select(_ => (random.NextSingle() * 8) - 4).ToArray();
        int[] labels = Enumerable.Range(0, rows).Select(_ => random.Next(Classes)).ToArray();
        // Hostile content on the masked rows: it must not be read into the loss.
        foreach (int r in new[] { 1, 4, 5 })
        {
            student.AsSpan(r * Classes, Classes).Fill(float.NaN);
            teacher.AsSpan(r * Classes, Classes).Fill(-1e30f);
        }
        int[] kept = Enumerable.Range(0, rows).Where(r => mask[r]).ToArray();
        float[] compactStudent = kept.SelectMany(r => student.AsSpan(r * Classes, Classes).ToArray()).ToArray();
        float[] compactTeacher = kept.SelectMany(r => teacher.AsSpan(r * Classes, Classes).ToArray()).ToArray();
        int[] compactLabels = kept.Select(r => labels[r]).ToArray();
        IDistillationLoss loss = Create(name);

        var gradient = new float[student.Length];
        LossValue masked = loss.Compute(new LossInputs(student, teacher, labels, Classes, 3, 10, normalizer: 10) { Mask = mask }, gradient);
        var compactGradient = new float[compactStudent.Length];
        LossValue compact = loss.Compute(new LossInputs(compactStudent, compactTeacher, compactLabels, Classes, 3, 10, normalizer: 10), compactGradient);

        masked.Total.Should().Be(compact.Total);
        masked.Terms.Should().Equal(compact.Terms);
        for (int i = 0; i < kept.Length; i++)
        {
            gradient.AsSpan(kept[i] * Classes, Classes).ToArray().Should().Equal(compactGradient.AsSpan(i * Classes, Classes).ToArray());
        }
        foreach (int r in new[] { 1, 4, 5 })
        {
            gradient.AsSpan(r * Classes, Classes).ToArray().Should().OnlyContain(g => g == 0f, $"row {r} is masked");
        }
    }

    [Fact]
    public void WithoutANormalizer_TheUnmaskedRowsAreTheDivisor()
    {
        float[] student = [1, 2, 3, 0, 0, 0], teacher = [3, 2, 1, 0, 0, 0];
        var loss = new HintonDistillationLoss(0.5f, 1f);
        float masked = loss.Compute(new LossInputs(student, teacher, [0, 1], 3, 0, 1) { Mask = [true, false] }, new float[6]).Total;
        float one = loss.Compute(new LossInputs(student[..3], teacher[..3], [0], 3, 0, 1), new float[3]).Total;
        masked.Should().Be(one);
    }

    [Fact]
    public void AMaskOfTheWrongLength_IsRefused()
    {
        Action act = () => new HardLabelLoss().Compute(new LossInputs(new float[6], [], [0, 1], 3, 0, 1) { Mask = [true, false, true] }, new float[6]);
        act.Should().Throw<ArgumentException>().WithMessage("*3 entries*2 rows*");
    }

    [Fact]
    public void ATeacherOfAnotherWidth_IsRefusedByTheClassificationLosses_WithTheWayOut()
    {
        Action act = () => new HintonDistillationLoss(0.5f, 1f).Compute(new LossInputs(new float[6], new float[8], [0, 1], 3, 0, 1) { TeacherClassCount = 4 }, new float[6]);
        act.Should().Throw<ArgumentException>().WithMessage("*teacher has 4*student 3*TokenDistillationLoss*");
    }
}
