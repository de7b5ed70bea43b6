namespace KnowledgeDistillation.Datasets;

/// <summary>The content of an IDX file: its shape and raw unsigned bytes in row-major order.</summary>
/// <param name="Shape">The size of each dimension.</param>
/// <param name="Data">The elements, row-major.</param>
public sealed record IdxArray(IReadOnlyList<int> Shape, byte[] Data);
