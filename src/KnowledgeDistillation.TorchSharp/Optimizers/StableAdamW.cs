using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Optimizers;

/// <summary>AdamW (Loshchilov &amp; Hutter), with PyTorch's defaults and update order; see <see cref="StableOptimizer"/> for why it exists.</summary>
public sealed class StableAdamW : StableOptimizer
{
    private readonly Tensor[] _state;

    /// <summary>Creates the optimizer.</summary>
    public StableAdamW(IEnumerable<Parameter> parameters, double weightDecay = 0.01, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
        : base(parameters)
    {
        if (!(weightDecay >= 0) || !(beta1 is >= 0 and < 1) || !(beta2 is >= 0 and < 1) || !(epsilon > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(weightDecay), $"AdamW needs weightDecay >= 0, beta1 and beta2 in [0, 1), epsilon > 0 (got {weightDecay}, {beta1}, {beta2}, {epsilon}).");
        }
        WeightDecay = weightDecay;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        _state = Parameters.SelectMany(p => new[] { ZerosLike(p), ZerosLike(p) }).ToArray();
    }

    /// <summary>Decoupled weight decay.</summary>
    public double WeightDecay { get; }

    /// <summary>First-moment decay.</summary>
    public double Beta1 { get; }

    /// <summary>Second-moment decay.</summary>
    public double Beta2 { get; }

    /// <summary>Denominator term.</summary>
    public double Epsilon { get; }

    /// <inheritdoc />
    public override string Name => "AdamW";

    /// <inheritdoc />
    protected override IReadOnlyList<Tensor> StateTensors => _state;

    /// <inheritdoc />
    protected override void Update(double learningRate)
    {
        double bias1 = 1 - Math.Pow(Beta1, StepCount);
        double bias2 = 1 - Math.Pow(Beta2, StepCount);
        using Scalar decay = (1 - (learningRate * WeightDecay)).ToScalar();
        using Scalar beta1 = Beta1.ToScalar(), oneMinusBeta1 = (1 - Beta1).ToScalar();
        using Scalar beta2 = Beta2.ToScalar(), oneMinusBeta2 = (1 - Beta2).ToScalar();
        using Scalar sqrtBias2 = Math.Sqrt(bias2).ToScalar(), epsilon = Epsilon.ToScalar();
        using Scalar stepSize = (-learningRate / bias1).ToScalar();
        for (int i = 0; i < Parameters.Count; i++)
        {
            Parameter p = Parameters[i];
            using Tensor? grad = p.grad;
            if (grad is null)
            {
                continue;
            }
            Tensor m = _state[2 * i], v = _state[(2 * i) + 1];
            p.mul_(decay);
            m.mul_(beta1).add_(grad, alpha: oneMinusBeta1);
            v.mul_(beta2).addcmul_(grad, grad, value: oneMinusBeta2);
            Tensor denominator = v.sqrt().div_(sqrtBias2).add_(epsilon, TorchScalars.One);
            p.addcdiv_(m, denominator, value: stepSize);
        }
    }
}
