using KnowledgeDistillation.IO;
using FluentAssertions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Text;
using KnowledgeDistillation.TorchSharp.LanguageModels;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.LanguageModels;

public sealed class CausalLanguageModelTests
{
    private static CausalLanguageModelOptions Tiny(bool tied = true) => new() { VocabularySize = 259, ContextLength = 16, Layers = 2, Heads = 2, Width = 32, TieEmbeddings = tied };

    [Fact]
    public void Logits_AtAPosition_DoNotDependOnLaterTokens()
    {
        TorchSharpRuntime.EnsureInitialized();
        torch.manual_seed(1);
        using var model = new CausalLanguageModel(Tiny());
        model.eval();
        using var scope = NewDisposeScope();
        long[] a = [1, 2, 3, 4, 5, 6, 7, 8];
        long[] b = [1, 2, 3, 4, 99, 98, 97, 96];
        Tensor la = model.call(torch.tensor(a, new long[] { 1, 8 }));
        Tensor lb = model.call(torch.tensor(b, new long[] { 1, 8 }));
        float before = la.narrow(1, 0, 4).sub(lb.narrow(1, 0, 4)).abs().max().item<float>();
        float after = la.narrow(1, 4, 4).sub(lb.narrow(1, 4, 4)).abs().max().item<float>();
        before.Should().BeLessThan(1e-5f, "position t sees only tokens ≤ t");
        after.Should().BeGreaterThan(1e-3f, "positions after the change see it");
        la.shape.Should().Equal(1, 8, 259);
    }

    [Fact]
    public void TiedEmbeddings_ShareTheOutputWeights_AndSaveLoadRoundTrips()
    {
        TorchSharpRuntime.EnsureInitialized();
        torch.manual_seed(2);
        using var tied = new CausalLanguageModel(Tiny());
        using var untied = new CausalLanguageModel(Tiny(tied: false));
        (untied.ParameterCount - tied.ParameterCount).Should().Be(259 * 32);

        string path = Path.Combine(Path.GetTempPath(), $"kd-lm-{Guid.NewGuid():N}.weights");
        try
        {
            WeightsFile.Save(new TorchLanguageModel(tied), path);
            torch.manual_seed(3);
            using var other = new CausalLanguageModel(Tiny());
            WeightsFile.Load(new TorchLanguageModel(other), path);
            using var scope = NewDisposeScope();
            Tensor x = torch.tensor(new long[] { 5, 6, 7 }, new long[] { 1, 3 });
            tied.eval();
            other.eval();
            other.call(x).sub(tied.call(x)).abs().max().item<float>().Should().Be(0f);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Options_RejectAWidthThatHeadsDoNotDivide_AndTooLongInput()
    {
        Action width = () => new CausalLanguageModelOptions { Width = 30, Heads = 4 }.Validate();
        width.Should().Throw<ArgumentException>().WithMessage("*Width (30)*Heads (4)*").Which.ParamName.Should().Be("Width");
        TorchSharpRuntime.EnsureInitialized();
        using var model = new CausalLanguageModel(Tiny());
        using var scope = NewDisposeScope();
        Action tooLong = () => model.call(torch.zeros(1, 17, dtype: ScalarType.Int64));
        tooLong.Should().Throw<ArgumentException>().WithMessage("*17 tokens*context is 16*");
        CausalLanguageModelOptions.Parse("layers=3,heads=2,width=64,context=32,tied=false", 259).Should().BeEquivalentTo(new CausalLanguageModelOptions { Layers = 3, Heads = 2, Width = 64, ContextLength = 32, TieEmbeddings = false });
    }

    [Fact]
    public void ByteTokenizer_RoundTripsUnicode_AndSkipsSpecials()
    {
        ByteTokenizer tokenizer = ByteTokenizer.Instance;
        int[] ids = tokenizer.Encode("In the beginning — ἐν ἀρχῇ");
        ids.Should().OnlyContain(i => i >= 0 && i < 256);
        tokenizer.Decode([tokenizer.BeginOfSequence, .. ids, tokenizer.EndOfSequence]).Should().Be("In the beginning — ἐν ἀρχῇ");
        tokenizer.VocabularySize.Should().Be(259);
    }

    [Fact]
    public void GenerateBatch_IsDeterministicForAGenerator_AndGreedyGenerateStopsAtTheStopToken()
    {
        TorchSharpRuntime.EnsureInitialized();
        torch.manual_seed(4);
        using var model = new CausalLanguageModel(Tiny());
        int[][] prompts = [[256, 65], [256, 66]];
        int[][] first = model.GenerateBatch(prompts, 20, 1f, new Generator(7));
        int[][] second = model.GenerateBatch(prompts, 20, 1f, new Generator(7));
        first.Should().HaveCount(2);
        first[0].Should().HaveCount(20).And.Equal(second[0]);
        first[1].Should().Equal(second[1]);
        int[] greedy = model.Generate([256, 65], 30, 0f);
        int[] stopped = model.Generate([256, 65], 30, 0f, stopToken: greedy[2]);
        stopped.Should().Equal(greedy.Take(Array.IndexOf(greedy, greedy[2]) + 1));
    }
}
