using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Features;

/// <summary>
/// FitNets hint loss (Romero et al., ICLR 2015): the student's guided layer, passed through a learnable regressor, is
/// matched to the teacher's hint layer. Term name <c>fitnet</c>.
/// </summary>
/// <remarks>
/// The regressor of each pair is created from the first observed shapes: for 4-D maps a convolution (1×1 by default,
/// or 3×3 with padding 1) from the student's to the teacher's channels, followed by BatchNorm and ReLU, as common
/// reference implementations do; for vectors (or a map matched to a vector, flattened) a linear projection. Maps of
/// different spatial size are pooled down to the smaller one (adaptive average pooling) before the distance. The
/// regressors' <see cref="FeatureDistillationLoss.Parameters"/> are optimised with the student by
/// <see cref="Training.TorchDistiller"/> and are not part of the student, so they are dropped from its saved weights and
/// ONNX export. For the paper's two stages, set <see cref="Training.TorchDistiller.HintEpochs"/>.
/// </remarks>
public sealed class FitNetHintLoss : FeatureDistillationLoss
{
    private readonly List<nn.Module<Tensor, Tensor>> _regressors = [];
    private Parameter[] _parameters = [];

    /// <summary>Creates the loss.</summary>
    /// <param name="pairs">Guided student layer / hint teacher layer pairs.</param>
    /// <param name="weight">The weight of the hint term; the default value is 1.</param>
    /// <param name="distance">MSE (default) or smooth L1.</param>
    /// <param name="kernelSize">The regressor's convolution kernel for feature maps: 1 (default) or 3.</param>
    public FitNetHintLoss(IEnumerable<LayerPair> pairs, float weight = 1, HintDistance distance = HintDistance.Mse, int kernelSize = 1)
        : base("fitnet", pairs, weight)
    {
        if (kernelSize is not (1 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(kernelSize), kernelSize, "The regressor's kernel size must be 1 or 3.");
        }
        if (!Enum.IsDefined(distance))
        {
            throw new ArgumentOutOfRangeException(nameof(distance), distance, "Use Mse or SmoothL1.");
        }
        Distance = distance;
        KernelSize = kernelSize;
    }

    /// <summary>The distance used.</summary>
    public HintDistance Distance { get; }

    /// <summary>The regressor's kernel size for feature maps.</summary>
    public int KernelSize { get; }

    /// <summary>The regressors, one per pair (empty before initialisation).</summary>
    public IReadOnlyList<nn.Module<Tensor, Tensor>> Regressors => _regressors;

    /// <inheritdoc />
    public override IReadOnlyList<Parameter> Parameters => _parameters;

    /// <inheritdoc />
    public override void Train(bool training)
    {
        foreach (var regressor in _regressors)
        {
            regressor.train(training);
        }
    }

    /// <inheritdoc />
    protected override void OnInitialize(IReadOnlyList<long[]> studentShapes, IReadOnlyList<long[]> teacherShapes, Device device)
    {
        for (int i = 0; i < Pairs.Count; i++)
        {
            long[] s = studentShapes[i], t = teacherShapes[i];
            nn.Module<Tensor, Tensor> regressor;
            if (s.Length == 4 && t.Length == 4)
            {
                regressor = nn.Sequential(
                    ("conv", nn.Conv2d(s[1], t[1], KernelSize, padding: KernelSize / 2, bias: false)),
                    ("bn", nn.BatchNorm2d(t[1])),
                    ("relu", nn.ReLU()));
            }
            else
            {
                regressor = nn.Linear(s.Skip(1).Aggregate(1L, (a, b) => a * b), t.Skip(1).Aggregate(1L, (a, b) => a * b));
            }
            regressor.to(device);
            regressor.train();
            _regressors.Add(regressor);
        }
        _parameters = _regressors.SelectMany(r => r.parameters()).ToArray();
    }

    /// <inheritdoc />
    protected override Tensor ComputeCore(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher)
    {
        Tensor? total = null;
        for (int i = 0; i < student.Count; i++)
        {
            Tensor s = student[i], t = teacher[i];
            Tensor regressed;
            if (s.dim() == 4 && t.dim() == 4)
            {
                long h = Math.Min(s.shape[2], t.shape[2]), w = Math.Min(s.shape[3], t.shape[3]);
                if (s.shape[2] != h || s.shape[3] != w)
                {
                    s = nn.functional.adaptive_avg_pool2d(s, [h, w]);
                }
                if (t.shape[2] != h || t.shape[3] != w)
                {
                    t = nn.functional.adaptive_avg_pool2d(t, [h, w]);
                }
                regressed = _regressors[i].call(s);
            }
            else
            {
                regressed = _regressors[i].call(s.reshape(s.shape[0], -1));
                t = t.reshape(t.shape[0], -1);
            }
            Tensor term = Distance == HintDistance.Mse
                ? nn.functional.mse_loss(regressed, t, nn.Reduction.Mean)
                : nn.functional.smooth_l1_loss(regressed, t, nn.Reduction.Mean, 1.0);
            total = total is null ? term : total.add(term, TorchScalars.One);
        }
        return total!;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var regressor in _regressors)
            {
                regressor.Dispose();
            }
            _regressors.Clear();
            _parameters = [];
        }
    }
}
