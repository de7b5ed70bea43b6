using KnowledgeDistillation.TorchSharp.Recipes;
using System.Text.Json;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Cli.Distill;
using KnowledgeDistillation.TorchSharp.Features;

namespace KnowledgeDistillation.Cli.Tests;

public sealed class DistillFeatureMethodTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-cli-features-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private DistillSettings Small(string method, string? json = null) => new()
    {
        Teacher = "cnn:8,16:bn",
        Student = "cnn:4,8",
        TeacherEpochs = 1,
        Epochs = 2,
        Seeds = [0],
        TrainLimit = 600,
        TestLimit = 100,
        LatencyIterations = 5,
        Threads = 1,
        Method = method,
        OutputDirectory = Path.Combine(_dir, "out"),
        CacheDirectory = Path.Combine(_dir, "cache"),
        JsonPath = json,
    };

    [Theory]
    [InlineData("at+kd", "at", "block1:block1,block2:block2")]
    [InlineData("fitnet", "fitnet", "block2:block2")]
    [InlineData("sp", "sp", "block2:block2")]
    public async Task FeatureMethods_RunEndToEnd_WithThePresetDefaultPairs(string method, string feature, string pairs)
    {
        string json = Path.Combine(_dir, "r.json");
        var output = new StringWriter();

        int code = await DistillCommand.RunAsync(Small(method, json), output, CancellationToken.None);

        code.Should().Be(0, output.ToString());
        output.ToString().Should().Contain($"method {method} ({feature} {pairs})").And.MatchRegex($@"distilled seed 0: epoch 2/2 loss [0-9.]+ \[.*{feature} [0-9]");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        doc.RootElement.GetProperty("method").GetString().Should().Be(method);
        doc.RootElement.GetProperty("pairs").GetProperty(feature).GetString().Should().Be(pairs);
        doc.RootElement.GetProperty("student_kd").GetProperty("accuracy").GetDouble().Should().BeInRange(0.12, 1.0, "above chance (10 classes) after a few steps on 600 images");
    }

    [Fact]
    public async Task FitNets_TwoStages_PreTrainOnTheHintThenDistil()
    {
        var output = new StringWriter();

        int code = await DistillCommand.RunAsync(Small("fitnet+kd") with { HintEpochs = 1, Pairs = "block1:block2" }, output, CancellationToken.None);

        code.Should().Be(0, output.ToString());
        string log = output.ToString();
        log.Should().MatchRegex(@"distilled seed 0: epoch 1/2 loss [0-9.]+ \[fitnet [0-9.]+\]").And.MatchRegex(@"distilled seed 0: epoch 2/2 loss [0-9.]+ \[ce [0-9.]+ fitnet [0-9.]+ kd [0-9.]+\]");
        log.Should().Contain("method fitnet+kd (fitnet block1:block2), hint epochs 1");
    }

    [Theory]
    [InlineData("method")]
    [InlineData("pairs")]
    [InlineData("hint")]
    [InlineData("at-mode")]
    public async Task BadFeatureSettings_Exit2BeforeTraining(string what)
    {
        DistillSettings settings = what switch
        {
            "method" => Small("at+bogus"),
            "pairs" => Small("at") with { Pairs = "block1:block9" },
            "hint" => Small("fitnet") with { HintEpochs = 2 },
            _ => Small("at") with { AtMode = "folklore" },
        };
        (await DistillCommand.RunAsync(settings, new StringWriter(), CancellationToken.None)).Should().Be(2);
        Directory.Exists(Path.Combine(_dir, "cache")).Should().BeFalse("nothing was trained");
    }

    [Fact]
    public void DefaultPairs_FollowTheBlocks_AndMlpPresetsUseTheLastHiddenLayer()
    {
        string[] student = ["block1", "block2", "flatten", "logits"], teacher = ["block1", "block2", "block3", "flatten", "logits"];
        FeatureMethodRegistry.DefaultPairs("at", student, teacher).Should().Equal(new LayerPair("block1", "block1"), new LayerPair("block2", "block2"));
        FeatureMethodRegistry.DefaultPairs("fitnet", student, teacher).Should().Equal(new LayerPair("block2", "block2"));
        FeatureMethodRegistry.DefaultPairs("sp", student, teacher).Should().Equal(new LayerPair("block2", "block3"));
        FeatureMethodRegistry.DefaultPairs("rkd", student, teacher).Should().Equal(new LayerPair("flatten", "flatten"));
        FeatureMethodRegistry.DefaultPairs("sp", ["flatten", "fc1", "relu1", "fc2", "relu2", "logits"], ["flatten", "fc1", "relu1", "logits"])
            .Should().Equal(new LayerPair("relu2", "relu1"));
        FluentActions.Invoking(() => FeatureMethodRegistry.DefaultPairs("at", ["flatten", "fc1", "relu1", "logits"], teacher))
            .Should().Throw<ArgumentException>().WithMessage("*--pairs*");
        DistillationMethod.Parse("kd+at").ToString().Should().Be("at+kd", "the order of the parts does not matter");
        DistillationMethod.Parse("rkd+sp").Features.Should().Equal("sp", "rkd");
    }
}
