namespace KnowledgeDistillation.Kernels.Rows;

/// <summary>
/// One reusable float row per thread, for passes that keep intermediate values between two sweeps of a row (for
/// example the teacher's exponentials, so the gradient sweep does not evaluate exp again). Allocated once per thread
/// and grown to the longest row seen, so warmed-up calls allocate nothing.
/// </summary>
internal static class RowScratch
{
    [ThreadStatic]
    private static float[]? t_row;

    /// <summary>A span of <paramref name="length"/> floats, owned by the calling thread until its next call.</summary>
    internal static Span<float> Get(int length)
    {
        float[]? row = t_row;
        if (row is null || row.Length < length)
        {
            // Round up so that rows of slowly growing lengths do not reallocate every time.
            row = new float[(Math.Max(length, 256) + 255) & ~255];
            t_row = row;
        }
        return row.AsSpan(0, length);
    }
}
