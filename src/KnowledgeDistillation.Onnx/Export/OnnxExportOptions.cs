namespace KnowledgeDistillation.Onnx.Export;

/// <summary>Names and metadata written into an exported model.</summary>
public sealed class OnnxExportOptions
{
    /// <summary>The graph input's name.</summary>
    public string InputName { get; init; } = "input";

    /// <summary>The logits output's name.</summary>
    public string OutputName { get; init; } = "logits";

    /// <summary>Layer names whose outputs are exposed as extra graph outputs (usable as teacher intermediates).</summary>
    public IReadOnlyCollection<string> IntermediateOutputs { get; init; } = [];

    /// <summary>The id of the teacher the student was distilled from (metadata <c>kd.teacher</c>).</summary>
    public string? TeacherId { get; init; }

    /// <summary>The distillation temperature (metadata <c>kd.temperature</c>).</summary>
    public double? Temperature { get; init; }

    /// <summary>The student's test accuracy at export, in [0, 1] (metadata <c>kd.accuracy</c>).</summary>
    public double? Accuracy { get; init; }

    /// <summary>More metadata properties.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
}
