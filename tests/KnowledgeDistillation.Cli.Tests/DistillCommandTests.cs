using System.Text.Json;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Cli.Distill;

namespace KnowledgeDistillation.Cli.Tests;

public sealed class DistillCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private DistillSettings Small(string? json = null) => new()
    {
        Teacher = "mlp:64",
        Student = "mlp:16",
        TeacherEpochs = 3,
        Epochs = 3,
        Seeds = [0, 1],
        TrainLimit = 2000,
        TestLimit = 200,
        LatencyIterations = 5,
        Threads = 1,
        OutputDirectory = Path.Combine(_dir, "out"),
        CacheDirectory = Path.Combine(_dir, "cache"),
        JsonPath = json,
    };

    [Fact]
    public async Task Distill_OnASubset_WritesTheTableAndTheDocumentedJson_AndCachesTheTeacher()
    {
        string json = Path.Combine(_dir, "results.json");
        var output = new StringWriter();

        int code = await DistillCommand.RunAsync(Small(json), output, CancellationToken.None);

        code.Should().Be(0, output.ToString());
        output.ToString().Should().Contain("| teacher | mlp:64 |").And.Contain("| student (distilled) | mlp:16 |").And.Contain("distillation gain");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement root = doc.RootElement;
        root.GetProperty("dataset").GetString().Should().Be("fashion-mnist");
        root.GetProperty("seeds").EnumerateArray().Select(e => e.GetInt32()).Should().Equal(0, 1);
        foreach (string model in new[] { "teacher", "student_kd", "student_scratch" })
        {
            JsonElement m = root.GetProperty(model);
            m.GetProperty("accuracy").GetDouble().Should().BeInRange(0.3, 1.0, $"{model} learned something");
            m.GetProperty("parameters").GetInt64().Should().BePositive();
            m.GetProperty("size_bytes").GetInt64().Should().BePositive();
            m.GetProperty("latency_ms").GetProperty("p50").GetDouble().Should().BePositive();
            m.GetProperty("latency_ms").GetProperty("p99").GetDouble().Should().BeGreaterThanOrEqualTo(m.GetProperty("latency_ms").GetProperty("p50").GetDouble());
        }
        root.GetProperty("student_kd").GetProperty("parameters").GetInt64().Should().BeLessThan(root.GetProperty("teacher").GetProperty("parameters").GetInt64());
        Directory.GetFiles(Path.Combine(_dir, "cache"), "teacher-*.weights").Should().ContainSingle();
        Directory.GetFiles(Path.Combine(_dir, "out"), "student-*.weights").Should().HaveCount(4);

        var again = new StringWriter();
        (await DistillCommand.RunAsync(Small(), again, CancellationToken.None)).Should().Be(0);
        again.ToString().Should().Contain("teacher loaded from cache");
    }

    [Fact]
    public async Task Distill_WithThreeTeachers_DistilsTheirEnsemble_AndReportsEveryMember()
    {
        string json = Path.Combine(_dir, "ensemble.json");
        var output = new StringWriter();

        int code = await DistillCommand.RunAsync(Small(json) with { Teachers = 3, Seeds = [0] }, output, CancellationToken.None);

        code.Should().Be(0, output.ToString());
        output.ToString().Should().Contain("ensemble of 3 × mlp:64").And.Contain("seed 1002");
        Directory.GetFiles(Path.Combine(_dir, "cache"), "teacher-*.weights").Should().HaveCount(3, "every member is cached under its own seed");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement root = doc.RootElement;
        double[] members = [.. root.GetProperty("teacher_member_accuracies").EnumerateArray().Select(e => e.GetDouble())];
        members.Should().HaveCount(3).And.OnlyContain(a => a > 0.3);
        members.Distinct().Should().HaveCountGreaterThan(1, "members start from different seeds");
        long single = KnowledgeDistillation.TorchSharp.Models.TorchModel.FromPreset("mlp:64", [1, 28, 28], 10, seed: 0).Metadata.ParameterCount!.Value;
        root.GetProperty("teacher").GetProperty("parameters").GetInt64().Should().Be(3 * single);
        root.GetProperty("teacher").GetProperty("architecture").GetString().Should().Be("ensemble of 3 × mlp:64");
        root.GetProperty("teacher").GetProperty("accuracy").GetDouble().Should().BeGreaterThan(0.3);
    }

    [Theory]
    [InlineData("reverse-kl", "reverse_kl")]
    [InlineData("jsd", "jsd")]
    [InlineData("dkd", "dkd")]
    public async Task Distill_OtherLosses_Run(string loss, string term)
    {
        var output = new StringWriter();
        int code = await DistillCommand.RunAsync(Small() with { Loss = loss, Seeds = [0] }, output, CancellationToken.None);
        code.Should().Be(0, output.ToString());
        output.ToString().Should().Contain($"loss {loss}");
        // The distilled student's epoch lines list the terms that actually ran: the named divergence and the CE, not Hinton's kd.
        string[] distilled = output.ToString().Split('\n').Where(l => l.Contains("distilled seed 0: epoch", StringComparison.Ordinal)).ToArray();
        distilled.Should().NotBeEmpty();
        distilled.Should().AllSatisfy(l => l.Should().MatchRegex($@"\[ce [0-9.e+-]+ {term} [0-9.e+-]+\]", "the loss terms that ran are reported"));
    }

    [Theory]
    [InlineData("temperature")]
    [InlineData("student")]
    [InlineData("seeds")]
    [InlineData("loss")]
    [InlineData("teachers")]
    [InlineData("teachers-with-features")]
    public async Task Distill_BadSettings_Exit2BeforeTraining(string what)
    {
        DistillSettings settings = what switch
        {
            "temperature" => Small() with { Temperature = "-2" },
            "student" => Small() with { Student = "transformer:9" },
            "loss" => Small() with { Loss = "mse" },
            "teachers" => Small() with { Teachers = 0 },
            "teachers-with-features" => Small() with { Teachers = 2, Method = "at+kd" },
            _ => Small() with { Seeds = [] },
        };
        var output = new StringWriter();
        var errors = new StringWriter();
        TextWriter standardError = Console.Error;
        Console.SetError(errors);
        try
        {
            (await DistillCommand.RunAsync(settings, output, CancellationToken.None)).Should().Be(2);
        }
        finally
        {
            Console.SetError(standardError);
        }
        if (what.StartsWith("teachers", StringComparison.Ordinal))
        {
            errors.ToString().Should().Contain("--teachers", "the message names the option at fault");
        }
        Directory.Exists(Path.Combine(_dir, "cache")).Should().BeFalse("nothing was trained");
    }
}
