using BenchmarkDotNet.Attributes;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Schedules;
using KnowledgeDistillation.TorchSharp.Losses;
using KnowledgeDistillation.TorchSharp.LanguageModels;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.TorchSharp.Teachers;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace KnowledgeDistillation.Benchmarks;

/// <summary>
/// One language-model training micro-step through the training core's own step (<see cref="TorchDistiller.ComputeGradientsAsync{TBatch}"/>:
/// forward, loss on the fused CPU kernels, backward) at vocabulary 32,000 and a batch of 8 × 64 tokens, with the teacher's
/// outputs precomputed (as a logit cache or an API gives them): cross-entropy only, token-level KD against dense logits, and
/// against the top-20 log-probabilities. Also the loss call alone on spans, for its managed allocation. Times per step.
/// </summary>
[MemoryDiagnoser]
[JsonExporterAttribute.Full]
public class LmTrainingStepBenchmarks
{
    private const int Batch = 8;
    private const int Sequence = 64;
    private const int Tokens = Batch * Sequence;
    private const int TopK = 20;
    private const int Vocabulary = 32000;

    private TorchLanguageModel? _student;
    private TokenBatch? _batch;
    private Tensor? _teacherLogits;
    private Tensor? _teacherIndices;
    private Tensor? _teacherValues;
    private TorchDistiller? _ce;
    private TorchDistiller? _kd;
    private ITeacherSignal<TokenBatch>? _dense;
    private ITeacherSignal<TokenBatch>? _sparse;
    private readonly TokenDistillationLoss _loss = new(Schedule.Constant(0.5f), Schedule.Constant(1f));
    private float[] _studentRows = [];
    private float[] _teacherRows = [];
    private int[] _indices = [];
    private float[] _values = [];
    private float[] _gradient = [];

    [GlobalSetup]
    public void Setup()
    {
        TorchSharpRuntime.EnsureInitialized();
        torch.set_num_threads(1);
        _student = TorchLanguageModel.Create(new CausalLanguageModelOptions { VocabularySize = Vocabulary, ContextLength = Sequence, Layers = 2, Heads = 4, Width = 128 }, seed: 1);
        var random = new Random(1);
        int[] inputs = Enumerable.Range(0, Tokens).Select(_ => random.Next(Vocabulary)).ToArray();
        int[] targets = Enumerable.Range(0, Tokens).Select(_ => random.Next(Vocabulary)).ToArray();
        _batch = new TokenBatch(inputs, targets, Enumerable.Repeat(true, Tokens).ToArray(), Batch, Sequence);
        using (torch.no_grad())
        {
            using Scalar scale = 3.ToScalar();
            _teacherLogits = torch.randn(Tokens, Vocabulary).mul(scale);
            (Tensor values, Tensor indices) = nn.functional.log_softmax(_teacherLogits, 1).topk(TopK, 1);
            (_teacherValues, _teacherIndices) = (values, indices);
        }
        var options = new DistillationOptions { BatchSize = Batch };
        _ce = new TorchDistiller(options, TorchLosses.HardLabel());
        _kd = new TorchDistiller(options, _loss);
        _dense = new Precomputed(() => new TeacherTensors(_teacherLogits, null, null, TopKValueKind.Logits, new Dictionary<string, Tensor>()), TeacherTargetKinds.DenseLogits);
        _sparse = new Precomputed(() => new TeacherTensors(null, _teacherIndices, _teacherValues, TopKValueKind.LogProbabilities, new Dictionary<string, Tensor>()), TeacherTargetKinds.TopK);

        _studentRows = Enumerable.Range(0, Tokens * Vocabulary).Select(_ => (random.NextSingle() * 6) - 3).ToArray();
        _teacherRows = _teacherLogits.data<float>().ToArray();
        _indices = _teacherIndices.to_type(ScalarType.Int32).data<int>().ToArray();
        _values = _teacherValues.data<float>().ToArray();
        _gradient = new float[_studentRows.Length];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _student?.Dispose();
        foreach (Tensor? t in new[] { _teacherLogits, _teacherIndices, _teacherValues })
        {
            t?.Dispose();
        }
    }

    [Benchmark(Baseline = true, Description = "step: cross-entropy only")]
    public float CrossEntropyStep() => Step(_ce!, null);

    [Benchmark(Description = "step: dense token KD")]
    public float DenseStep() => Step(_kd!, _dense);

    [Benchmark(Description = "step: top-20 token KD")]
    public float TopKStep() => Step(_kd!, _sparse);

    [Benchmark(Description = "loss call: dense token KD on spans")]
    public float DenseLossCall() =>
        _loss.Compute(new LossInputs(_studentRows, _teacherRows, _batch!.Targets, Vocabulary, 0, 1, Tokens), _gradient).Total;

    [Benchmark(Description = "loss call: top-20 token KD on spans")]
    public float TopKLossCall() =>
        _loss.Compute(new LossInputs(_studentRows, [], _batch!.Targets, Vocabulary, 0, 1, Tokens)
        {
            TeacherTopK = TopK,
            TeacherTopKIndices = _indices,
            TeacherTopKValues = _values,
            TeacherTopKValueKind = TopKValueKind.LogProbabilities,
        }, _gradient).Total;

    private float Step(TorchDistiller trainer, ITeacherSignal<TokenBatch>? teacher)
    {
        LossValue value = trainer.ComputeGradientsAsync(_student!, teacher, _batch!, Tokens).GetAwaiter().GetResult();
        _student!.Model.zero_grad();
        return value.Total;
    }

    /// <summary>Precomputed teacher tensors, handed to the step as a cache would.</summary>
    private sealed class Precomputed(Func<TeacherTensors> tensors, TeacherTargetKinds kind) : ITeacherSignal<TokenBatch>
    {
        public ModelMetadata Metadata { get; } = new("precomputed", Vocabulary, null, []);

        public TeacherTargetKinds Provides => kind;

        public bool IsPrecomputed => true;

        public void EnsureCompatible(IBatchSource<TokenBatch> data, string parameterName)
        {
        }

        public ValueTask<TeacherStepTargets> FetchAsync(TokenBatch batch, TeacherSignalRequest request, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(TeacherStepTargets.OnDevice(tensors));
    }
}
