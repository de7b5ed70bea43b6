using Microsoft.ML.OnnxRuntime;

namespace KnowledgeDistillation.Onnx.Teachers;

/// <summary>How an <see cref="OnnxTeacher"/> opens its session and which of the model's inputs and outputs it uses.</summary>
public sealed class OnnxTeacherOptions
{
    /// <summary>Threads ONNX Runtime uses inside one operator; 0 lets ONNX Runtime choose (one per physical core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Threads ONNX Runtime uses across operators (parallel execution only); 0 lets ONNX Runtime choose.</summary>
    public int InterOpThreads { get; init; }

    /// <summary>The graph optimisation level; all optimisations by default.</summary>
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>The input to feed; null when the model has exactly one input.</summary>
    public string? InputName { get; init; }

    /// <summary>The output holding the logits; null picks the output named <c>logits</c>, else the first output.</summary>
    public string? LogitsOutputName { get; init; }

    /// <summary>The shape of one sample the student is trained on (for example <c>[1, 28, 28]</c>); checked against the model when set.</summary>
    public IReadOnlyList<int>? ExpectedInputShape { get; init; }

    /// <summary>The number of classes the student predicts; checked against the model's logits when set.</summary>
    public int? ExpectedClassCount { get; init; }

    /// <summary>A name for reports and messages; defaults to the file name.</summary>
    public string? Name { get; init; }
}
