using KnowledgeDistillation.Kernels.Simd;

namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>One streaming pass over a row (or part of one), written once for every vector width.</summary>
internal interface IRowPass
{
    /// <summary>Processes elements [start, end); end - start is a multiple of TOps.Count.</summary>
    void Run<TOps, TVec>(int start, int end)
        where TOps : ISimdOps<TVec>
        where TVec : struct;
}
