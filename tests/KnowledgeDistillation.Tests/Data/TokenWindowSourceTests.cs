using KnowledgeDistillation.Data;

namespace KnowledgeDistillation.Tests.Data;

public sealed class TokenWindowSourceTests
{
    private static readonly TokenStream Text = new(Enumerable.Range(0, 500).Select(i => i % 37).ToArray());

    [Fact]
    public void RandomWindows_DoNotDependOnHowTheRunIsSplitIntoEpochs()
    {
        // One epoch of 24 windows, or three of 8: the same windows in the same order (a resumed run fast-forwards the draws).
        TokenBatch[] whole = TokenWindowSource.Random(Text, 16, 37, 24).GetBatches(8, shuffle: true, seed: 5, epoch: 0).ToArray();
        TokenWindowSource split = TokenWindowSource.Random(Text, 16, 37, 8);
        TokenBatch[] parts = [.. Enumerable.Range(0, 3).SelectMany(e => split.GetBatches(8, shuffle: true, seed: 5, epoch: e))];
        parts.Should().HaveCount(3);
        for (int i = 0; i < 3; i++)
        {
            parts[i].Inputs.Should().Equal(whole[i].Inputs);
            parts[i].Targets.Should().Equal(whole[i].Targets);
        }
        // And the same as drawing from one seeded Random, window by window.
        TokenBatch first = Text.Sample(new Random(5), 8, 16);
        whole[0].Inputs.Should().Equal(first.Inputs);
        TokenWindowSource.Random(Text, 16, 37, 8).GetBatches(8, true, seed: 6, epoch: 0).First().Inputs.Should().NotEqual(first.Inputs, "another seed draws other windows");
    }

    [Fact]
    public void SequentialWindows_PredictEveryTokenOnce()
    {
        TokenWindowSource source = TokenWindowSource.Sequential(Text, 16, 37, padding: 36);
        TokenBatch[] batches = [.. source.GetBatches(5, shuffle: true, seed: 1, epoch: 3)];
        batches.Sum(b => b.ValidTokens).Should().Be(Text.Count - 1);
        source.Count.Should().Be((499 + 15) / 16);
        source.SampleShape.Should().Equal(16);
    }

    [Fact]
    public void BadTokenDataOrSizes_AreRefusedNamingTheProblem()
    {
        Action outOfVocabulary = () => TokenWindowSource.Random(Text, 16, 30, 8);
        outOfVocabulary.Should().Throw<ArgumentException>().WithMessage("*id 30*vocabulary [0, 30)*");
        Action tooLong = () => TokenWindowSource.Random(new TokenStream([1, 2, 3]), 16, 37, 8);
        tooLong.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*sequenceLength must be in [1, 3)*give more text*");
        Action noWindows = () => TokenWindowSource.Random(Text, 16, 37, 0);
        noWindows.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*windowsPerEpoch*");
    }
}
