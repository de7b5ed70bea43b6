using System.Text;
using KnowledgeDistillation.Build;
using TorchSharp;

namespace KnowledgeDistillation.TorchSharp.Tests.Build;

public sealed class ElfLibStdCxxPatcherTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-elf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The pristine library in the NuGet cache (never modified by the build step).</summary>
    private static string PristineLibrary()
    {
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string version = typeof(torch).Assembly.GetName().Version!.ToString(3);
        string path = Path.Combine(packages, "torchsharp", version, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        File.Exists(path).Should().BeTrue($"the TorchSharp package should be restored at {path}");
        return path;
    }

    private static bool RequiresVersion(byte[] image, string version) =>
        image.AsSpan().IndexOf(Encoding.ASCII.GetBytes("\0" + version + "\0")) >= 0;

    private static int Occurrences(byte[] image, string text)
    {
        byte[] needle = Encoding.ASCII.GetBytes("\0" + text + "\0");
        int count = 0;
        for (int at = image.AsSpan().IndexOf(needle); at >= 0;)
        {
            count++;
            int next = image.AsSpan(at + 1).IndexOf(needle);
            at = next < 0 ? -1 : at + 1 + next;
        }
        return count;
    }

    [Fact]
    public void Patch_PristineLibrary_RemovesTheRequirementAndIsIdempotent()
    {
        string copy = Path.Combine(_dir, "libLibTorchSharp.so");
        File.Copy(PristineLibrary(), copy);
        byte[] before = File.ReadAllBytes(copy);
        RequiresVersion(before, ElfLibStdCxxPatcher.RequiredVersion).Should().BeTrue("the shipped library needs GLIBCXX_3.4.32");

        ElfLibStdCxxPatcher.PatchFile(copy).Should().Be(ElfPatchOutcome.Patched);
        byte[] after = File.ReadAllBytes(copy);

        after.Length.Should().Be(before.Length, "the patch rewrites strings in place");
        // The dynamic string table loses the symbol (the static .symtab of an unstripped build may keep its own copy).
        Occurrences(after, ElfLibStdCxxPatcher.MissingSymbol).Should().Be(Occurrences(before, ElfLibStdCxxPatcher.MissingSymbol) - 1);
        Occurrences(after, ElfLibStdCxxPatcher.ReplacementSymbol).Should().Be(Occurrences(before, ElfLibStdCxxPatcher.ReplacementSymbol) + 1);
        ElfLibStdCxxPatcher.PatchFile(copy).Should().Be(ElfPatchOutcome.NotNeeded);
        File.ReadAllBytes(copy).Should().Equal(after);
        File.Exists(copy + ".kdpatch.tmp").Should().BeFalse();
    }

    [Fact]
    public void BuildOutput_HoldsAPatchedCopy_AndTheNuGetCacheIsUntouched()
    {
        string output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        byte[] pristine = File.ReadAllBytes(PristineLibrary());
        RequiresVersion(pristine, ElfLibStdCxxPatcher.RequiredVersion).Should().BeTrue();

        string? libstdcxx = ElfLibStdCxxPatcher.FindSystemLibStdCxx();
        bool systemHasVersion = libstdcxx is not null && ElfLibStdCxxPatcher.FileContainsAscii(libstdcxx, ElfLibStdCxxPatcher.RequiredVersion);
        byte[] built = File.ReadAllBytes(output);
        if (systemHasVersion)
        {
            built.Should().Equal(pristine, "no patch is applied when the system libstdc++ is new enough");
        }
        else
        {
            ElfLibStdCxxPatcher.Patch(built, output).Should().Be(ElfPatchOutcome.NotNeeded, "the build step patched the output copy");
        }
    }

    [Fact]
    public void Patch_NotAnElfFile_ThrowsInvalidData()
    {
        byte[] text = Encoding.ASCII.GetBytes(new string('x', 200));
        Action act = () => ElfLibStdCxxPatcher.Patch(text, "notes.txt");
        act.Should().Throw<InvalidDataException>().WithMessage("*'notes.txt' is not an ELF file*");
    }

    [Fact]
    public void Patch_TruncatedLibrary_ThrowsInvalidData()
    {
        byte[] head = File.ReadAllBytes(PristineLibrary())[..4096];
        Action act = () => ElfLibStdCxxPatcher.Patch(head, "truncated.so");
        act.Should().Throw<InvalidDataException>().WithMessage("*'truncated.so' is truncated or corrupt*");
    }

    [Fact]
    public void ElfHash_MatchesKnownValue()
    {
        // vna_hash of GLIBCXX_3.4 as written by the GNU linker into every libstdc++ consumer.
        ElfLibStdCxxPatcher.ElfHash("GLIBCXX_3.4").Should().Be(0x08922974u);
    }
}
