using KnowledgeDistillation.Schedules;

namespace KnowledgeDistillation.Tests.Schedules;

public sealed class ScheduleTests
{
    [Fact]
    public void Constant_IsTheSameEverywhere()
    {
        ISchedule s = Schedule.Constant(4);
        new[] { 0L, 5, 9 }.Select(step => s.ValueAt(step, 10)).Should().AllBeEquivalentTo(4f);
    }

    [Fact]
    public void Linear_GoesFromStartToEndThroughTheMiddle()
    {
        ISchedule s = Schedule.Linear(8, 2);
        s.ValueAt(0, 11).Should().Be(8);
        s.ValueAt(5, 11).Should().BeApproximately(5, 1e-6f);
        s.ValueAt(10, 11).Should().Be(2);
        s.ValueAt(50, 11).Should().Be(2, "steps past the end are clamped");
    }

    [Fact]
    public void Cosine_HasFlatEnds_AndPassesTheMidpointHalfway()
    {
        ISchedule s = Schedule.Cosine(8, 2);
        s.ValueAt(0, 101).Should().BeApproximately(8, 1e-5f);
        s.ValueAt(50, 101).Should().BeApproximately(5, 1e-5f);
        s.ValueAt(100, 101).Should().BeApproximately(2, 1e-5f);
        (s.ValueAt(0, 101) - s.ValueAt(1, 101)).Should().BeLessThan(s.ValueAt(50, 101) - s.ValueAt(51, 101), "slowest at the ends");
    }

    [Fact]
    public void Exponential_HasEqualRatiosPerStep()
    {
        ISchedule s = Schedule.Exponential(8, 1);
        s.ValueAt(0, 4).Should().BeApproximately(8, 1e-5f);
        s.ValueAt(1, 4).Should().BeApproximately(4, 1e-5f);
        s.ValueAt(2, 4).Should().BeApproximately(2, 1e-5f);
        s.ValueAt(3, 4).Should().BeApproximately(1, 1e-5f);
        Action bad = () => Schedule.Exponential(0, 1);
        bad.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("start");
    }

    [Fact]
    public void Piecewise_ByEpoch_GivesOneValuePerEpoch()
    {
        ISchedule s = Schedule.Piecewise(2, 1.5f, 1, 0.5f);
        const long stepsPerEpoch = 100, total = 4 * stepsPerEpoch;
        s.ValueAt(0, total).Should().Be(2);
        s.ValueAt(99, total).Should().Be(2);
        s.ValueAt(100, total).Should().Be(1.5f);
        s.ValueAt(250, total).Should().Be(1);
        s.ValueAt(399, total).Should().Be(0.5f);
    }

    [Theory]
    [InlineData("4", 0, 4f)]
    [InlineData("constant:2.5", 0, 2.5f)]
    [InlineData("linear:8:2", 10, 2f)]
    [InlineData("cosine:8:2", 0, 8f)]
    [InlineData("exp:8:2", 10, 2f)]
    [InlineData("step:2,1.5,1,0.5", 10, 0.5f)]
    public void Parse_AcceptsTheDocumentedForms(string text, long step, float expected)
    {
        Schedule.Parse(text).ValueAt(step, 11).Should().BeApproximately(expected, 1e-5f);
    }

    [Theory]
    [InlineData("fast")]
    [InlineData("linear:8")]
    [InlineData("cosine:a:b")]
    [InlineData("step:")]
    public void Parse_RejectsOtherText_ListingTheForms(string text)
    {
        Action act = () => Schedule.Parse(text);
        act.Should().Throw<Exception>().Where(e => e is FormatException || e is ArgumentException);
    }

    [Fact]
    public void NoSteps_IsAClearError()
    {
        Action act = () => Schedule.Constant(1).ValueAt(0, 0);
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*at least one step*");
    }

    [Fact]
    public void NonFiniteValues_AreRejected()
    {
        Action act = () => Schedule.Linear(float.NaN, 1);
        act.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("start");
    }
}
