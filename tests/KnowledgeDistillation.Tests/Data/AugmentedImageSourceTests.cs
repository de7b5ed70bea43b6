using KnowledgeDistillation.Data;

namespace KnowledgeDistillation.Tests.Data;

public sealed class AugmentedImageSourceTests
{
    private static LabeledImageSet Ramp(int count)
    {
        // Each 4×4 image holds 1..16 so shifts and flips are visible.
        float[] pixels = Enumerable.Range(0, count).SelectMany(_ => Enumerable.Range(1, 16).Select(v => (float)v)).ToArray();
        return new LabeledImageSet(pixels, new int[count], 4, 4, 2, "ramp");
    }

    [Fact]
    public void NoPaddingNoFlip_IsTheIdentity()
    {
        LabeledImageSet set = Ramp(3);
        var augmented = new AugmentedImageSource(set, padding: 0, horizontalFlip: false);
        augmented.GetBatches(3, false, 1, 0).Single().Inputs.Data.ToArray().Should().Equal(set.Pixels);
    }

    [Fact]
    public void EveryOutput_IsAShiftedOrFlippedCopy_AndTheSameSeedAndEpochRepeat()
    {
        var augmented = new AugmentedImageSource(Ramp(64), padding: 1, horizontalFlip: true);
        float[] a = augmented.GetBatches(64, true, 5, 2).SelectMany(b => b.Inputs.Data.ToArray()).ToArray();
        float[] b = augmented.GetBatches(64, true, 5, 2).SelectMany(b => b.Inputs.Data.ToArray()).ToArray();
        float[] c = augmented.GetBatches(64, true, 5, 3).SelectMany(b => b.Inputs.Data.ToArray()).ToArray();
        a.Should().Equal(b);
        a.Should().NotEqual(c);

        float[] original = Enumerable.Range(1, 16).Select(v => (float)v).ToArray();
        var candidates = new List<float[]>();
        foreach (bool flip in new[] { false, true })
        {
            for (int dy = -1; dy <= 1; dy++)
            {
                for (int dx = -1; dx <= 1; dx++)
                {
                    var t = new float[16];
                    for (int y = 0; y < 4; y++)
                    {
                        for (int x = 0; x < 4; x++)
                        {
                            int sy = y + dy, sx = (flip ? 3 - x : x) + dx;
                            t[(y * 4) + x] = sy is >= 0 and < 4 && sx is >= 0 and < 4 ? original[(sy * 4) + sx] : 0;
                        }
                    }
                    candidates.Add(t);
                }
            }
        }
        for (int i = 0; i < 64; i++)
        {
            float[] image = a.AsSpan(i * 16, 16).ToArray();
            candidates.Should().Contain(x => x.SequenceEqual(image));
        }
        candidates.Count(x => Enumerable.Range(0, 64).Any(i => a.AsSpan(i * 16, 16).SequenceEqual(x))).Should().BeGreaterThan(6, "many different crops and flips occur");
    }

    [Fact]
    public void BadPadding_IsRejected()
    {
        Action act = () => _ = new AugmentedImageSource(Ramp(1), padding: 4);
        act.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("padding");
    }
}
