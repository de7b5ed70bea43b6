using BenchmarkDotNet.Attributes;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.TorchSharp.LanguageModels;
using KnowledgeDistillation.TorchSharp.Optimizers;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.TorchSharp.Training;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace KnowledgeDistillation.Benchmarks;

/// <summary>
/// One student training step of a small causal LM with a 32,000-token vocabulary (forward, loss, backward, AdamW step)
/// per token: plain next-token cross-entropy against token-level KD from stored teacher outputs, dense logits (fused CPU
/// kernels or TorchSharp operations) or top-k (k = 20) log-probabilities. The teacher's outputs are precomputed, as a
/// logit cache or an API would give them, so the step measures the student side only. Times are per token
/// (OperationsPerInvoke = batch × sequence); tokens/second = 10⁹ / ns.
/// </summary>
[MemoryDiagnoser]
[JsonExporterAttribute.Full]
public class LmLossBenchmarks
{
    private const int Batch = 4;
    private const int Sequence = 64;
    private const int Tokens = Batch * Sequence;
    private const int TopK = 20;

    private CausalLanguageModel? _student;
    private StableAdamW? _optimizer;
    private Tensor? _inputs;
    private Tensor? _targets;
    private Tensor? _mask;
    private Tensor? _teacherLogits;
    private Tensor? _teacherIndices;
    private Tensor? _teacherValues;
    private readonly SequenceLossOptions _loss = new() { Kind = DivergenceKind.ForwardKl, Temperature = 1f };

    [Params(32000)]
    public int Vocabulary { get; set; }

    /// <summary>Bytes a teacher cache stores per token: dense float32 logits against top-k int32 ids + float32 log-probs.</summary>
    public static (long Dense, long Sparse) StorageBytesPerToken(int vocabulary, int k) => (vocabulary * sizeof(float), k * (sizeof(int) + sizeof(float)));

    [GlobalSetup]
    public void Setup()
    {
        TorchSharpRuntime.EnsureInitialized();
        torch.set_num_threads(1);
        torch.manual_seed(1);
        _student = new CausalLanguageModel(new CausalLanguageModelOptions { VocabularySize = Vocabulary, ContextLength = Sequence, Layers = 2, Heads = 4, Width = 128 });
        _optimizer = new StableAdamW(_student.parameters());
        var random = new Random(1);
        _inputs = torch.tensor(Enumerable.Range(0, Tokens).Select(_ => (long)random.Next(Vocabulary)).ToArray(), new long[] { Batch, Sequence });
        _targets = torch.tensor(Enumerable.Range(0, Tokens).Select(_ => (long)random.Next(Vocabulary)).ToArray());
        _mask = torch.ones(Batch, Sequence, dtype: ScalarType.Bool);
        using (torch.no_grad())
        {
            using Scalar scale = 3.ToScalar();
            _teacherLogits = torch.randn(Batch, Sequence, Vocabulary).mul(scale);
            (Tensor values, Tensor indices) = nn.functional.log_softmax(_teacherLogits, 2).topk(TopK, 2);
            _teacherValues = values;
            _teacherIndices = indices;
        }

        (long dense, long sparse) = StorageBytesPerToken(Vocabulary, TopK);
        Console.WriteLine($"// teacher storage per token: dense float32 {dense:N0} B, top-{TopK} (int32 id + float32 log-prob) {sparse:N0} B ({(double)dense / sparse:F0}× less)");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _optimizer?.Dispose();
        _student?.Dispose();
        foreach (Tensor? t in new[] { _inputs, _targets, _mask, _teacherLogits, _teacherIndices, _teacherValues })
        {
            t?.Dispose();
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Tokens, Description = "cross-entropy only")]
    public float CrossEntropy() => Step(null);

    [Benchmark(OperationsPerInvoke = Tokens, Description = "dense KD, fused CPU kernels")]
    public float DenseKernels() => Step(logits => TorchSequenceLosses.Dense(logits, _teacherLogits!, _mask!, _loss, Tokens, LogitLossPath.FusedCpuKernels));

    [Benchmark(OperationsPerInvoke = Tokens, Description = "dense KD, TorchSharp ops")]
    public float DenseTorch() => Step(logits => TorchSequenceLosses.Dense(logits, _teacherLogits!, _mask!, _loss, Tokens, LogitLossPath.TorchOperations));

    [Benchmark(OperationsPerInvoke = Tokens, Description = "top-20 KD, fused CPU kernels")]
    public float SparseKernels() => Step(logits => TorchSequenceLosses.SparseTopK(logits, _teacherIndices!, _teacherValues!, TopKValueKind.LogProbabilities, _mask!, _loss, Tokens, LogitLossPath.FusedCpuKernels));

    [Benchmark(OperationsPerInvoke = Tokens, Description = "top-20 KD, TorchSharp ops")]
    public float SparseTorch() => Step(logits => TorchSequenceLosses.SparseTopK(logits, _teacherIndices!, _teacherValues!, TopKValueKind.LogProbabilities, _mask!, _loss, Tokens, LogitLossPath.TorchOperations));

    private float Step(Func<Tensor, Tensor>? distillation)
    {
        using var scope = torch.NewDisposeScope();
        Tensor logits = _student!.call(_inputs!);
        using Scalar inverse = (1.0 / Tokens).ToScalar();
        Tensor ce = nn.functional.cross_entropy(logits.reshape(-1, Vocabulary), _targets!, reduction: nn.Reduction.Sum).mul(inverse);
        Tensor total = ce;
        if (distillation is not null)
        {
            using Scalar half = 0.5.ToScalar();
            using Scalar one = 1.ToScalar();
            total = distillation(logits).mul(half).add(ce.mul(half), one);
        }

        total.backward();
        _optimizer!.Step(1e-4);
        _optimizer.ZeroGrad();
        return total.item<float>();
    }
}
