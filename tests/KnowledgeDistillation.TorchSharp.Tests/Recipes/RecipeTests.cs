using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.IO;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Schedules;
using KnowledgeDistillation.Text;
using KnowledgeDistillation.TorchSharp.Features;
using KnowledgeDistillation.TorchSharp.LanguageModels;
using KnowledgeDistillation.TorchSharp.Losses;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Recipes;
using KnowledgeDistillation.TorchSharp.Tests.Models;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;

namespace KnowledgeDistillation.TorchSharp.Tests.Recipes;

/// <summary>Recipes by name: losses and feature methods from registries, default layer pairs, the teacher store, sequence-level KD text.</summary>
public sealed class RecipeTests : IDisposable
{
    private static readonly int[] Image = [1, 28, 28];
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-recipes-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static LossContext Context(string spec, TeacherTargetKinds provides = TeacherTargetKinds.DenseLogits, int topK = 0) =>
        new(RecipeSpec.Parse(spec), Schedule.Constant(0.7f), Schedule.Constant(2f)) { TeacherProvides = provides, TeacherTopK = topK };

    [Fact]
    public void EveryRegisteredLoss_Builds_WithTheTermsItsNamePromises()
    {
        LossRegistry registry = LossRegistry.Default;
        registry.Names.Should().Contain(["ce", "hinton", "hinton-topk", "forward-kl", "reverse-kl", "jsd", "soft-ce", "dkd", "token-kd"]);
        var random = new Random(1);
        float[] student = Enumerable.Range(0, 40).Select(_ => random.NextSingle()).ToArray(), teacher = Enumerable.Range(0, 40).Select(_ => random.NextSingle()).ToArray();
        int[] labels = [0, 1, 2, 3];
        var expectedTerms = new Dictionary<string, string[]>
        {
            ["ce"] = ["ce"],
            ["hinton"] = ["kd", "ce"],
            ["hinton-topk"] = ["kd", "ce"],
            ["forward-kl"] = ["forward_kl", "ce"],
            ["reverse-kl"] = ["reverse_kl", "ce"],
            ["jsd"] = ["jsd", "ce"],
            ["soft-ce"] = ["soft_ce", "ce"],
            ["dkd"] = ["dkd", "ce"],
            ["token-kd"] = ["kd", "ce"],
        };
        foreach ((string name, string[] terms) in expectedTerms)
        {
            IDistillationLoss loss = registry.Create(Context(name));
            LossValue value = loss.Compute(new LossInputs(student, teacher, labels, 10, 0, 1), new float[40]);
            value.Terms.Keys.Should().Contain(terms, name);
            float.IsFinite(value.Total).Should().BeTrue(name);
        }
    }

    [Fact]
    public void Parameters_ReachTheLoss_AndUnknownNamesOrParametersAreRefusedListingTheKnownOnes()
    {
        var random = new Random(2);
        float[] student = Enumerable.Range(0, 40).Select(_ => random.NextSingle() * 4).ToArray(), teacher = Enumerable.Range(0, 40).Select(_ => random.NextSingle() * 4).ToArray();
        int[] labels = [0, 1, 2, 3];
        float Term(IDistillationLoss loss, string term) => loss.Compute(new LossInputs(student, teacher, labels, 10, 0, 1), new float[40]).Terms[term];
        Term(LossRegistry.Default.Create(Context("jsd:beta=0.3")), "jsd")
            .Should().Be(Term(new SoftTargetLoss(DivergenceKind.JensenShannon, Schedule.Constant(2f), jsdBeta: 0.3f), "jsd")).And.NotBe(Term(LossRegistry.Default.Create(Context("jsd")), "jsd"));
        Term(LossRegistry.Default.Create(Context("dkd:tckd=2,nckd=4")), "dkd").Should().Be(Term(new DecoupledKdLoss(2, 4, Schedule.Constant(2f)), "dkd"));

        Action unknown = () => LossRegistry.Default.Create(Context("magic"));
        unknown.Should().Throw<ArgumentException>().WithMessage("*Unknown loss 'magic'*hinton*jsd*");
        Action badParameter = () => LossRegistry.Default.Create(Context("hinton:beta=2"));
        badParameter.Should().Throw<ArgumentException>().WithMessage("*'hinton' has no parameter 'beta'*It takes none*");
        Action notANumber = () => LossRegistry.Default.Create(Context("jsd:beta=half"));
        notANumber.Should().Throw<ArgumentException>().WithMessage("*beta=half*not a number*");
        Action badSpec = () => RecipeSpec.Parse("jsd:beta");
        badSpec.Should().Throw<FormatException>().WithMessage("*key=value*");
    }

    [Fact]
    public void Hinton_AgainstATopKTeacher_IsItsTopKForm_AndAUserLossIsNamedLikeTheLibrarysOwn()
    {
        IDistillationLoss dense = LossRegistry.Default.Create(Context("hinton"));
        dense.AcceptedTargets.Should().Be(TeacherTargetKinds.DenseLogits);
        IDistillationLoss sparse = LossRegistry.Default.Create(Context("hinton", TeacherTargetKinds.TopK, 3));
        sparse.AcceptedTargets.Should().HaveFlag(TeacherTargetKinds.TopK);
        sparse.Name.Should().Be("hinton-topk");

        LossRegistry mine = LossRegistry.CreateDefault();
        mine.Register("half-ce", "the cross-entropy, halved", [], _ => TorchLosses.Composite([(TorchLosses.HardLabel(), Schedule.Constant(0.5f))]));
        var recipe = new DistillationRecipe { Loss = "half-ce", Losses = mine };
        recipe.CreateLoss().Should().BeAssignableTo<ITorchLogitLoss>();
        LossRegistry.Default.Names.Should().NotContain("half-ce", "CreateDefault is a copy");
    }

    [Fact]
    public void ARecipe_BuildsLossFeaturesAndHintStage_AndValidatesBeforeAnyModelIsBuilt()
    {
        string[] student = ["block1", "block2", "flatten", "logits"], teacher = ["block1", "block2", "block3", "flatten", "logits"];
        var recipe = new DistillationRecipe { Method = "fitnet+kd", Loss = "hinton", Alpha = "0.7", Temperature = "1", HintEpochs = 1 };
        recipe.ParsedMethod.ToString().Should().Be("fitnet+kd");
        recipe.LayerPairs(student, teacher)["fitnet"].Should().Equal(new LayerPair("block2", "block2"));
        TorchDistiller trainer = recipe.CreateTrainer(new DistillationOptions { Epochs = 3 }, student, teacher);
        trainer.HintEpochs.Should().Be(1);
        trainer.FeatureLosses.Should().ContainSingle().Which.Should().BeOfType<FitNetHintLoss>();
        trainer.Loss.Name.Should().Be("hinton");
        foreach (FeatureDistillationLoss f in trainer.FeatureLosses)
        {
            f.Dispose();
        }

        new DistillationRecipe { Method = "at", Pairs = "block1:block2" }.LayerPairs(student, teacher)["at"].Should().Equal(new LayerPair("block1", "block2"));
        new DistillationRecipe { Method = "sp" }.CreateLoss().Name.Should().Be("ce", "without kd the logit part is the cross-entropy");

        Action hint = () => new DistillationRecipe { Method = "fitnet+kd", HintEpochs = 3 }.Validate(epochs: 3);
        hint.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*0 <= N < epochs*");
        Action hintWithoutFeatures = () => new DistillationRecipe { HintEpochs = 1 }.Validate(epochs: 3);
        hintWithoutFeatures.Should().Throw<ArgumentException>().WithMessage("*fitnet*");
        Action badMethod = () => new DistillationRecipe { Method = "kd+kd" }.Validate(3);
        badMethod.Should().Throw<ArgumentException>().WithMessage("*Unknown method 'kd+kd'*at, fitnet, sp, rkd*");
        Action badSchedule = () => new DistillationRecipe { Alpha = "sometimes" }.Validate(3);
        badSchedule.Should().Throw<ArgumentException>().WithMessage("*Alpha*sometimes*");
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

    [Fact]
    public async Task TheTeacherStore_TrainsOnce_LoadsAfterwards_AndRetrainsADamagedTeacher()
    {
        var store = new TeacherStore(Path.Combine(_dir, "store"));
        string key = TeacherStore.Key("mlp:8", "data-hash", "3 epochs");
        key.Should().HaveLength(16).And.Be(TeacherStore.Key("mlp:8", "data-hash", "3 epochs")).And.NotBe(TeacherStore.Key("mlp:8", "data-hash", "4 epochs"));
        int trainings = 0;
        LabeledImageSet train = TestData.TrainSubset(128);
        Task Train(TorchModel model, CancellationToken ct)
        {
            trainings++;
            return new TorchDistiller(new DistillationOptions { Epochs = 1, Seed = 1 }, TorchLosses.HardLabel()).FitAsync(model, null, train, cancellationToken: ct);
        }

        using TorchModel first = TorchModel.FromPreset("mlp:8", Image, 10, seed: 1);
        StoredTeacher stored = await store.GetOrTrainAsync(key, first, ct => Train(first, ct));
        stored.Trained.Should().BeTrue();
        File.Exists(stored.Path).Should().BeTrue();
        string id = TeacherStore.TeacherId("mlp:8", stored.Path);

        using TorchModel second = TorchModel.FromPreset("mlp:8", Image, 10, seed: 99);
        var lines = new List<string>();
        (await store.GetOrTrainAsync(key, second, ct => Train(second, ct), lines.Add)).Trained.Should().BeFalse();
        trainings.Should().Be(1);
        lines.Should().ContainSingle().Which.Should().StartWith("teacher loaded from cache");
        ModelPresetsTests.Weights(second).Should().Equal(ModelPresetsTests.Weights(first));

        byte[] bytes = File.ReadAllBytes(stored.Path);
        bytes[^5] ^= 0x01;
        File.WriteAllBytes(stored.Path, bytes);
        using TorchModel third = TorchModel.FromPreset("mlp:8", Image, 10, seed: 1);
        lines.Clear();
        (await store.GetOrTrainAsync(key, third, ct => Train(third, ct), lines.Add)).Trained.Should().BeTrue("a damaged teacher is retrained, not used");
        lines.Should().ContainSingle().Which.Should().Contain("unusable").And.Contain("SHA-256");
        trainings.Should().Be(2);
        TeacherStore.TeacherId("mlp:8", stored.Path).Should().Be(id, "seeded training reproduces the same teacher");
    }

    [Fact]
    public void SequenceLevelText_IsTheTeachersOwn_AndDeterministic()
    {
        var text = new TokenStream(Enumerable.Range(0, 400).Select(i => i % 50).ToArray());
        using TorchLanguageModel teacher = TorchLanguageModel.Create(new CausalLanguageModelOptions { VocabularySize = 259, ContextLength = 16, Layers = 1, Heads = 2, Width = 16 }, seed: 3);
        (TokenStream a, _) = SequenceLevelDistillation.Generate(teacher, text, tokens: 100, seed: 7, promptLength: 4, newTokens: 12, rows: 4);
        (TokenStream b, _) = SequenceLevelDistillation.Generate(teacher, text, tokens: 100, seed: 7, promptLength: 4, newTokens: 12, rows: 4);
        a.Count.Should().Be(128, "two rounds of 4 documents of 4 + 12 tokens");
        a.Tokens.ToArray().Should().Equal(b.Tokens.ToArray());
        a.Tokens[..4].ToArray().Should().OnlyContain(t => t < 50, "each document starts with a prompt from the text");
    }
}
