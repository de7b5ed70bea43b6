namespace KnowledgeDistillation.Datasets.Tests;

/// <summary>Reads the real King James Bible (Debian package bible-kjv-text; eng/test.sh installs it). Fails, never skips, when absent.</summary>
public sealed class KingJamesBibleTests
{
    [Fact]
    public void KingJamesBible_LoadsThe31102Verses()
    {
        IReadOnlyList<string> verses = KingJamesBible.LoadVerses();
        verses.Should().HaveCount(31102);
        verses[0].Should().Be("In the beginning God created the heaven and the earth.");
        verses[^1].Should().EndWith("be with you all. Amen.");
    }
}
