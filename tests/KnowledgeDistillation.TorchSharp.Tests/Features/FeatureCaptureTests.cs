using KnowledgeDistillation.TorchSharp.Features;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Tests.Features;

public sealed class FeatureCaptureTests
{
    private static readonly int[] Image = [1, 28, 28];

    public FeatureCaptureTests() => TorchSharpRuntime.EnsureInitialized();

    /// <summary>A custom module in the user's style: children invoked through call(x) or, if asked, through forward(x).</summary>
    private sealed class TwoStage : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> stem;
        private readonly nn.Module<Tensor, Tensor> head;
        private readonly bool _viaForward;

        public TwoStage(bool viaForward) : base(nameof(TwoStage))
        {
            stem = nn.Sequential(("conv", nn.Conv2d(1, 4, 3, padding: 1)), ("relu", nn.ReLU()));
            head = nn.Sequential(("flatten", nn.Flatten()), ("fc", nn.Linear(4 * 28 * 28, 10)));
            _viaForward = viaForward;
            RegisterComponents();
        }

        public Tensor Stem(Tensor x) => stem.call(x);

        public override Tensor forward(Tensor input) => _viaForward ? head.forward(stem.forward(input)) : head.call(stem.call(input));
    }

    [Fact]
    public void SequentialClassifier_CapturedFeature_EqualsTheLayersRealOutput()
    {
        using var scope = torch.NewDisposeScope();
        using TorchModel model = TorchModel.FromPreset("cnn:4,8", Image, 10, seed: 1);
        model.Module.eval();
        Tensor x = torch.randn(3, 1, 28, 28);
        var captured = new Dictionary<string, Tensor>();

        Tensor logits = model.Forward(x, ["block2"], captured);

        var layers = model.Module.named_modules().Where(m => m.name.Count(ch => ch == '.') == 1)
            .ToDictionary(m => m.name.Split('.')[^1], m => m.module as nn.Module<Tensor, Tensor>);
        Tensor expected = layers["block2"]!.forward(layers["block1"]!.forward(x));
        captured["block2"].shape.Should().Equal(3, 8, 7, 7);
        torch.allclose(captured["block2"], expected).Should().BeTrue("the captured tensor is block2's actual output");
        torch.allclose(logits, model.Module.forward(x)).Should().BeTrue("capturing does not change the result");
    }

    [Fact]
    public void CustomModule_CallingChildrenThroughCall_IsCapturedByHooks_AndEqualsTheRealOutput()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(2);
        using TorchModel model = new(new TwoStage(viaForward: false), Image, 10);
        Tensor x = torch.randn(2, 1, 28, 28);
        var captured = new Dictionary<string, Tensor>();

        model.Forward(x, ["stem", "stem.conv"], captured);

        torch.allclose(captured["stem"], ((TwoStage)model.Module).Stem(x)).Should().BeTrue();
        captured["stem.conv"].shape.Should().Equal(2, 4, 28, 28);
        model.Metadata.IntermediateNames.Should().Contain(["stem", "stem.conv", "head", "head.fc"]);
    }

    [Fact]
    public void CustomModule_CallingChildrenThroughForward_FailsLoudlyInsteadOfCapturingNothing()
    {
        using var scope = torch.NewDisposeScope();
        using TorchModel model = new(new TwoStage(viaForward: true), Image, 10);

        var act = () => model.Forward(torch.randn(2, 1, 28, 28), ["stem"], new Dictionary<string, Tensor>());

        act.Should().Throw<InvalidOperationException>().WithMessage("*'stem'*call(x)*IFeatureCapturingModule*");
    }

    [Fact]
    public void UnknownName_IsAnError_ListingTheAvailableNames()
    {
        using var scope = torch.NewDisposeScope();
        using TorchModel sequential = TorchModel.FromPreset("cnn:4,8", Image, 10, seed: 1);
        using TorchModel custom = new(new TwoStage(viaForward: false), Image, 10);

        var a = () => sequential.Forward(torch.randn(1, 1, 28, 28), ["layer9"], new Dictionary<string, Tensor>());
        var b = () => custom.Forward(torch.randn(1, 1, 28, 28), ["layer9"], new Dictionary<string, Tensor>());

        a.Should().Throw<ArgumentException>().WithMessage("*'layer9'*block1, block2, flatten, logits*");
        b.Should().Throw<ArgumentException>().WithMessage("*'layer9'*stem*stem.conv*head*");
    }
}
