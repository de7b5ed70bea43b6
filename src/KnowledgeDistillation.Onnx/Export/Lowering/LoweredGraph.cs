namespace KnowledgeDistillation.Onnx.Export.Lowering;

/// <summary>A model ready to emit: its layers flattened, batch norms folded, shapes checked.</summary>
/// <param name="Source">The model as given (its name, input shape, classes and parameter count go into the file).</param>
/// <param name="Layers">The layers in order; each reads the previous one's output.</param>
internal sealed record LoweredGraph(StudentGraph Source, IReadOnlyList<LoweredLayer> Layers);
