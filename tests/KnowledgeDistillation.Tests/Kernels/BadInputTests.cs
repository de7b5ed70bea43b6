using KnowledgeDistillation.Kernels;

namespace KnowledgeDistillation.Tests.Kernels;

public sealed class BadInputTests
{
    private static readonly float[] Student = [1f, 2f, 3f, 4f, 5f, 6f];
    private static readonly float[] Teacher = [3f, 2f, 1f, 0f, 1f, 2f];

    [Fact]
    public void ShapeMismatches_NameTheParameterAndTheValues()
    {
        var gradient = new float[6];
        Action notMultiple = () => DistillationPrimitives.KlDivergence(Student, Teacher, 4, 1f);
        notMultiple.Should().Throw<ArgumentException>().Where(e => e.ParamName == "studentLogits").WithMessage("*(6)*(4)*");
        Action teacherLength = () => DistillationPrimitives.KlDivergence(Student, Teacher.AsSpan(0, 3), 3, 1f);
        teacherLength.Should().Throw<ArgumentException>().Where(e => e.ParamName == "teacherLogits").WithMessage("*(3)*(6)*");
        Action gradientLength = () => DistillationPrimitives.DivergenceWithGradient(Student, Teacher, 3, 1f, DivergenceKind.ForwardKl, new float[5]);
        gradientLength.Should().Throw<ArgumentException>().Where(e => e.ParamName == "studentGradient");
        Action labelCount = () => DistillationPrimitives.HintonLossWithGradient(Student, Teacher, [0], 3, 1f, 0.5f, gradient);
        labelCount.Should().Throw<ArgumentException>().Where(e => e.ParamName == "labels").WithMessage("*(1)*(2)*");
        Action zeroClasses = () => DistillationPrimitives.Softmax(Student, 0, 1f, gradient);
        zeroClasses.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "classes");
        Action noneWithoutRows = () => DistillationPrimitives.KlDivergence(Student, Teacher, 3, 1f, new() { Reduction = LossReduction.None });
        noneWithoutRows.Should().Throw<ArgumentException>().Where(e => e.ParamName == "rowLosses");
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-1f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void BadTemperatures_Throw(float temperature)
    {
        Action act = () => DistillationPrimitives.KlDivergence(Student, Teacher, 3, temperature);
        act.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "temperature");
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1.1f)]
    [InlineData(float.NaN)]
    public void AlphaAndBetaOutsideTheUnitInterval_Throw(float value)
    {
        Action hinton = () => DistillationPrimitives.HintonLossWithGradient(Student, Teacher, [0, 1], 3, 1f, value, new float[6]);
        hinton.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "alpha").WithMessage($"*{value}*");
        Action jsd = () => DistillationPrimitives.Divergence(Student, Teacher, 3, 1f, DivergenceKind.JensenShannon, new() { JsdBeta = value });
        jsd.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "options.JsdBeta");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(3)]
    public void LabelsOutsideTheClasses_Throw(int label)
    {
        Action hinton = () => DistillationPrimitives.HintonLossWithGradient(Student, Teacher, [0, label], 3, 1f, 0.5f, new float[6]);
        hinton.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "labels").WithMessage($"*labels[1] = {label}*");
        Action dkd = () => DistillationPrimitives.DecoupledKdWithGradient(Student, Teacher, [label, 0], 3, 1f, 1f, 1f, new float[6]);
        dkd.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "labels");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void KOutsideOneToClasses_Throws(int k)
    {
        Action act = () => DistillationPrimitives.TopK(Student, 3, k, new int[2 * Math.Max(k, 1)], new float[2 * Math.Max(k, 1)]);
        act.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "k").WithMessage($"*[1, 3]*{k}*");
        Action sparse = () => DistillationPrimitives.SparseTopKWithGradient(Student, new int[2 * Math.Max(k, 1)], new float[2 * Math.Max(k, 1)], 3, k, 1f, TopKValueKind.Logits, TopKMassTreatment.Renormalize, false, new float[6]);
        sparse.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "k");
    }

    [Fact]
    public void SparseIndicesOutsideTheClasses_Throw()
    {
        Action act = () => DistillationPrimitives.SparseTopKWithGradient(Student, [0, 7], [1f, 2f], 3, 1, 1f, TopKValueKind.Logits, TopKMassTreatment.Renormalize, false, new float[6]);
        act.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "teacherIndices").WithMessage("*row 1*7*");
    }

    [Fact]
    public void BadNormalizer_Throws()
    {
        Action act = () => DistillationPrimitives.HintonLossWithGradient(Student, Teacher, [0, 1], 3, 1f, 0.5f, new float[6], new KernelOptions { Normalizer = 0f });
        act.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "options.Normalizer");
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteLogits_ThrowNamingTheFirstBadRowAndColumn_UnlessSkipped(float bad)
    {
        float[] student = (float[])Student.Clone();
        student[4] = bad;
        var gradient = new float[6];
        foreach (DivergenceKind kind in Enum.GetValues<DivergenceKind>())
        {
            Action act = () => DistillationPrimitives.DivergenceWithGradient(student, Teacher, 3, 1f, kind, gradient);
            act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "studentLogits").WithMessage("*row 1, column 1*");
            Action skipped = () => DistillationPrimitives.DivergenceWithGradient(student, Teacher, 3, 1f, kind, gradient, new() { SkipFiniteCheck = true });
            skipped.Should().NotThrow();
        }

        Action hinton = () => DistillationPrimitives.HintonLossWithGradient(Teacher, student, [0, 1], 3, 1f, 0.5f, gradient);
        hinton.Should().Throw<ArgumentException>().Where(e => e.ParamName == "teacherLogits").WithMessage("*row 1, column 1*");
        Action hintonSkipped = () => DistillationPrimitives.HintonLossWithGradient(Teacher, student, [0, 1], 3, 1f, 0.5f, gradient, new KernelOptions { SkipFiniteCheck = true });
        hintonSkipped.Should().NotThrow();
        Action dkd = () => DistillationPrimitives.DecoupledKdWithGradient(student, Teacher, [1, 1], 3, 1f, 1f, 1f, gradient);
        dkd.Should().Throw<ArgumentException>().WithMessage("*row 1, column 1*");
        Action softmax = () => DistillationPrimitives.Softmax(student, 3, 1f, gradient);
        softmax.Should().Throw<ArgumentException>().WithMessage("*row 1, column 1*");
        Action topK = () => DistillationPrimitives.TopK(student, 3, 1, new int[2], new float[2]);
        topK.Should().Throw<ArgumentException>().WithMessage("*row 1, column 1*");
        Action sparse = () => DistillationPrimitives.SparseTopKWithGradient(student, [0, 0], [1f, 1f], 3, 1, 1f, TopKValueKind.Logits, TopKMassTreatment.Renormalize, false, gradient);
        sparse.Should().Throw<ArgumentException>().WithMessage("*row 1, column 1*");
    }
}
