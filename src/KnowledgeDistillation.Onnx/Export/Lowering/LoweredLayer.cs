namespace KnowledgeDistillation.Onnx.Export.Lowering;

/// <summary>One layer of the flat list an export emits, with the sample shapes around it (batch dimension left out).</summary>
/// <param name="Layer">The layer (a batch norm that followed it is already folded in).</param>
/// <param name="InputShape">The shape of one input sample.</param>
/// <param name="OutputShape">The shape of one output sample.</param>
/// <param name="RangeName">
/// The name under which this output's activation range is calibrated (the tap of a calibration graph); null when the
/// output is no model layer's (a layer a rewrite moved).
/// </param>
/// <param name="Names">
/// The model names whose output this layer's output is, in order: the layer itself, then the sequences ending with it and
/// the batch norms folded into it. These are the names a caller can request as intermediate outputs.
/// </param>
internal sealed record LoweredLayer(OnnxLayer Layer, IReadOnlyList<int> InputShape, IReadOnlyList<int> OutputShape, string? RangeName, IReadOnlyList<string> Names);
