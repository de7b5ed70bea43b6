using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace KnowledgeDistillation.Benchmarks;

/// <summary>
/// Fused KD loss + gradient (forward KL at T with T², batchmean) on rows × classes logits, against a plain scalar loop,
/// composed TensorPrimitives calls, and TorchSharp CPU forward + backward, single-threaded and on all cores, plus a
/// plain copy of the same size for the memory-bandwidth reference. Effective bandwidth counts 12 bytes per element
/// (student and teacher read, gradient written) for the kernels and 8 (read + write) for the copy.
/// </summary>
[MemoryDiagnoser]
[JsonExporterAttribute.Full]
public class KernelBenchmarks
{
    private const float Temperature = 2f;

    private float[] _student = [];
    private float[] _teacher = [];
    private float[] _gradient = [];
    private float[] _copyDestination = [];
    private float[] _scratchA = [];
    private float[] _scratchB = [];
    private float[] _scratchC = [];
    private Tensor? _torchStudent;
    private Tensor? _torchTeacher;

    [Params(64)]
    public int Rows { get; set; }

    [Params(10, 1000, 32000, 128000)]
    public int Classes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        int length = Rows * Classes;
        _student = Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() - 0.5) * 10)).ToArray();
        _teacher = Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() - 0.5) * 10)).ToArray();
        _gradient = new float[length];
        _copyDestination = new float[length];
        _scratchA = new float[Classes];
        _scratchB = new float[Classes];
        _scratchC = new float[Classes];
        TorchSharpRuntime.EnsureInitialized();
        _torchStudent = tensor(_student, Rows, Classes).requires_grad_();
        _torchTeacher = tensor(_teacher, Rows, Classes);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _torchStudent?.Dispose();
        _torchTeacher?.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Fused kernel, 1 thread")]
    public float FusedSingleThread() =>
        DistillationPrimitives.DivergenceWithGradient(_student, _teacher, Classes, Temperature, DivergenceKind.ForwardKl, _gradient, new KernelOptions { ScaleByTemperatureSquared = true });

    [Benchmark(Description = "Fused kernel, all cores")]
    public float FusedAllCores() =>
        DistillationPrimitives.DivergenceWithGradient(_student, _teacher, Classes, Temperature, DivergenceKind.ForwardKl, _gradient, new KernelOptions { ScaleByTemperatureSquared = true, MaxDegreeOfParallelism = -1 });

    [Benchmark(Description = "Scalar loop, 1 thread")]
    public float ScalarLoop()
    {
        double total = 0;
        float scale = Temperature * Temperature / Rows / Temperature;
        for (int r = 0; r < Rows; r++)
        {
            ReadOnlySpan<float> s = _student.AsSpan(r * Classes, Classes);
            ReadOnlySpan<float> t = _teacher.AsSpan(r * Classes, Classes);
            Span<float> g = _gradient.AsSpan(r * Classes, Classes);
            float studentMax = float.NegativeInfinity, teacherMax = float.NegativeInfinity;
            for (int i = 0; i < s.Length; i++)
            {
                studentMax = MathF.Max(studentMax, s[i]);
                teacherMax = MathF.Max(teacherMax, t[i]);
            }

            double studentSum = 0, teacherSum = 0, cross = 0;
            for (int i = 0; i < s.Length; i++)
            {
                float a = (t[i] - teacherMax) / Temperature, b = (s[i] - studentMax) / Temperature;
                float ea = MathF.Exp(a);
                teacherSum += ea;
                studentSum += MathF.Exp(b);
                cross += ea * (a - b);
            }

            total += (cross / teacherSum) - Math.Log(teacherSum) + Math.Log(studentSum);
            float ks = (float)(scale / studentSum), kt = (float)(scale / teacherSum);
            for (int i = 0; i < s.Length; i++)
            {
                g[i] = (ks * MathF.Exp((s[i] - studentMax) / Temperature)) - (kt * MathF.Exp((t[i] - teacherMax) / Temperature));
            }
        }

        return (float)(total * Temperature * Temperature / Rows);
    }

    [Benchmark(Description = "Composed TensorPrimitives, 1 thread")]
    public float ComposedTensorPrimitives()
    {
        double total = 0;
        float scale = Temperature * Temperature / Rows / Temperature;
        Span<float> logStudent = _scratchA, logTeacher = _scratchB, teacherProbabilities = _scratchC;
        for (int r = 0; r < Rows; r++)
        {
            ReadOnlySpan<float> s = _student.AsSpan(r * Classes, Classes);
            ReadOnlySpan<float> t = _teacher.AsSpan(r * Classes, Classes);
            Span<float> g = _gradient.AsSpan(r * Classes, Classes);

            // log_softmax(s/T) and softmax(s/T) by composition: max, subtract, scale, exp, sum, log.
            TensorPrimitives.Subtract(s, TensorPrimitives.Max(s), logStudent);
            TensorPrimitives.Multiply(logStudent, 1f / Temperature, logStudent);
            TensorPrimitives.Exp(logStudent, g);
            float studentSum = TensorPrimitives.Sum(g);
            TensorPrimitives.Subtract(logStudent, MathF.Log(studentSum), logStudent);

            TensorPrimitives.Subtract(t, TensorPrimitives.Max(t), logTeacher);
            TensorPrimitives.Multiply(logTeacher, 1f / Temperature, logTeacher);
            TensorPrimitives.Exp(logTeacher, teacherProbabilities);
            float teacherSum = TensorPrimitives.Sum(teacherProbabilities);
            TensorPrimitives.Subtract(logTeacher, MathF.Log(teacherSum), logTeacher);
            TensorPrimitives.Divide(teacherProbabilities, teacherSum, teacherProbabilities);

            // KL = Σ p_t (log p_t − log p_s); gradient = scale (p_s − p_t).
            TensorPrimitives.Subtract(logTeacher, logStudent, logTeacher);
            total += TensorPrimitives.Dot(teacherProbabilities, logTeacher);
            TensorPrimitives.Divide(g, studentSum, g);
            TensorPrimitives.Subtract(g, teacherProbabilities, g);
            TensorPrimitives.Multiply(g, scale, g);
        }

        return (float)(total * Temperature * Temperature / Rows);
    }

    [Benchmark(Description = "TorchSharp CPU, 1 thread")]
    public float TorchSharpSingleThread()
    {
        torch.set_num_threads(1);
        return TorchForwardBackward();
    }

    [Benchmark(Description = "TorchSharp CPU, all cores")]
    public float TorchSharpAllCores()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        return TorchForwardBackward();
    }

    [Benchmark(Description = "Copy (bandwidth reference)")]
    public void Copy() => _student.AsSpan().CopyTo(_copyDestination);

    private float TorchForwardBackward()
    {
        using var scope = NewDisposeScope();
        Tensor student = _torchStudent!;
        student.grad?.zero_();
        Tensor logStudent = nn.functional.log_softmax(student / Temperature, 1);
        Tensor logTeacher = nn.functional.log_softmax(_torchTeacher! / Temperature, 1);
        Tensor loss = nn.functional.kl_div(logStudent, logTeacher, reduction: nn.Reduction.Sum, log_target: true) * (Temperature * Temperature / Rows);
        loss.backward();
        return loss.item<float>();
    }
}
