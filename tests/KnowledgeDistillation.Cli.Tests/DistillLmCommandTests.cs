using System.Text.Json;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Cli.Distill;

namespace KnowledgeDistillation.Cli.Tests;

public sealed class DistillLmCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-cli-lm-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private DistillLmSettings Tiny(string? json = null, string modes = "scratch,dense,sparse,seqkd") => new()
    {
        Teacher = "layers=1,heads=2,width=32,context=32",
        Student = "layers=1,heads=2,width=16,context=32",
        TeacherSteps = 15,
        Steps = 5,
        BatchSize = 4,
        SequenceLength = 32,
        Modes = modes,
        SequenceKdTokens = 64,
        TrainVerses = 200,
        HeldOutEvery = 500,
        Threads = 1,
        CacheDirectory = Path.Combine(_dir, "cache"),
        OutputDirectory = Path.Combine(_dir, "out"),
        JsonPath = json,
    };

    [Fact]
    public async Task DistillLm_OnASlice_WritesTheTableAndJson_AndCachesTheTeacher()
    {
        string json = Path.Combine(_dir, "lm.json");
        var output = new StringWriter();

        int code = await DistillLmCommand.RunAsync(Tiny(json), output, CancellationToken.None);

        code.Should().Be(0, output.ToString());
        output.ToString().Should().Contain("| teacher | layers=1,heads=2,width=32").And.Contain("| student, from scratch |").And.Contain("perplexity against scratch");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement root = doc.RootElement;
        root.GetProperty("tokenizer").GetString().Should().Be("bytes-utf8-259");
        double teacherPerplexity = root.GetProperty("teacher").GetProperty("held_out_perplexity").GetDouble();
        teacherPerplexity.Should().BeInRange(1.0, 259.0);
        JsonElement[] students = root.GetProperty("students").EnumerateArray().ToArray();
        students.Should().HaveCount(4);
        foreach (JsonElement s in students)
        {
            s.GetProperty("held_out_perplexity").GetDouble().Should().BeInRange(1.0, 400.0);
            s.GetProperty("parameters").GetInt64().Should().BeLessThan(root.GetProperty("teacher").GetProperty("parameters").GetInt64());
        }

        Directory.GetFiles(Path.Combine(_dir, "cache"), "teacher-*.weights").Should().ContainSingle();
        Directory.GetFiles(Path.Combine(_dir, "out"), "lm-student-*-seed1.weights").Should().HaveCount(4, "kd distill-lm keeps every student it trains");
        foreach (JsonElement s in students)
        {
            File.Exists(s.GetProperty("weights_path").GetString()).Should().BeTrue();
            s.GetProperty("held_out_kl_to_teacher").GetDouble().Should().BeGreaterThan(0);
            s.GetProperty("greedy_agreement").GetDouble().Should().BeInRange(0, 1);
        }
        var again = new StringWriter();
        (await DistillLmCommand.RunAsync(Tiny(modes: "scratch"), again, CancellationToken.None)).Should().Be(0);
        again.ToString().Should().Contain("teacher loaded from");
    }

    [Fact]
    public async Task UnknownModeOrDivergence_ExitWithCode2()
    {
        (await DistillLmCommand.RunAsync(Tiny(modes: "scratch,magic"), new StringWriter(), CancellationToken.None)).Should().Be(2);
        (await DistillLmCommand.RunAsync(Tiny() with { Divergence = "hellinger" }, new StringWriter(), CancellationToken.None)).Should().Be(2);
    }
}
