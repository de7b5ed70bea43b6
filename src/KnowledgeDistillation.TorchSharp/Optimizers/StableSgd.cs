using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Optimizers;

/// <summary>SGD with momentum and L2 weight decay, PyTorch's formulation (no dampening); see <see cref="StableOptimizer"/> for why it exists.</summary>
public sealed class StableSgd : StableOptimizer
{
    private readonly Tensor[] _momentum;

    /// <summary>Creates the optimizer.</summary>
    public StableSgd(IEnumerable<Parameter> parameters, double momentum = 0.9, double weightDecay = 0, bool nesterov = false)
        : base(parameters)
    {
        if (!(momentum is >= 0 and < 1) || !(weightDecay >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), $"SGD needs momentum in [0, 1) and weightDecay >= 0 (got {momentum}, {weightDecay}).");
        }
        Momentum = momentum;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
        _momentum = Parameters.Select(ZerosLike).ToArray();
    }

    /// <summary>Momentum.</summary>
    public double Momentum { get; }

    /// <summary>L2 weight decay added to the gradient.</summary>
    public double WeightDecay { get; }

    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc />
    public override string Name => "SGD";

    /// <inheritdoc />
    protected override IReadOnlyList<Tensor> StateTensors => _momentum;

    /// <inheritdoc />
    protected override void Update(double learningRate)
    {
        using Scalar decay = WeightDecay.ToScalar(), momentum = Momentum.ToScalar(), step = (-learningRate).ToScalar();
        for (int i = 0; i < Parameters.Count; i++)
        {
            Parameter p = Parameters[i];
            using Tensor? grad = p.grad;
            if (grad is null)
            {
                continue;
            }
            Tensor d = WeightDecay != 0 ? grad.add(p, alpha: decay) : grad;
            if (Momentum != 0)
            {
                Tensor buffer = _momentum[i];
                if (StepCount == 1)
                {
                    buffer.copy_(d);
                }
                else
                {
                    buffer.mul_(momentum).add_(d, TorchScalars.One);
                }
                d = Nesterov ? d.add(buffer, alpha: momentum) : buffer;
            }
            p.add_(d, alpha: step);
        }
    }
}
