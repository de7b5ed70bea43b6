using System.Buffers;

namespace KnowledgeDistillation.Kernels;

/// <summary>
/// Runs a row job over all rows, single-threaded or with Parallel.For over blocks of rows, and sums the per-row
/// losses in row order in double. Each row is computed by the same code whatever the schedule and the sum order is
/// fixed, so the results are bit-identical for every degree of parallelism.
/// </summary>
internal static class RowScheduler
{
    /// <summary>Below this many elements per block a task costs more than it saves.</summary>
    internal const int MinElementsPerBlock = 1 << 15;

    internal static RowLoss Run<TJob>(TJob job, int rows, int classes, int maxDegreeOfParallelism, Span<float> rowLosses, double rowLossScale)
        where TJob : struct, IRowJob
    {
        int degree = maxDegreeOfParallelism < 0 ? Environment.ProcessorCount : maxDegreeOfParallelism;
        long rowsPerBlockLong = Math.Max(1, (MinElementsPerBlock + (long)classes - 1) / Math.Max(1, classes));
        int rowsPerBlock = (int)Math.Min(rowsPerBlockLong, Math.Max(1, rows));
        int blocks = rows == 0 ? 0 : (rows + rowsPerBlock - 1) / rowsPerBlock;

        double primary = 0, secondary = 0;
        if (degree <= 1 || blocks <= 1)
        {
            for (int row = 0; row < rows; row++)
            {
                RowLoss loss = job.Run(row);
                primary += loss.Primary;
                secondary += loss.Secondary;
                if (!rowLosses.IsEmpty)
                {
                    rowLosses[row] = (float)(loss.Primary * rowLossScale);
                }
            }

            return new RowLoss(primary, secondary);
        }

        return RunParallel(job, rows, rowsPerBlock, blocks, degree, rowLosses, rowLossScale);
    }

    // Separate so that the closure Parallel.For needs is only allocated on this path, never on the single-threaded one.
    private static RowLoss RunParallel<TJob>(TJob job, int rows, int rowsPerBlock, int blocks, int degree, Span<float> rowLosses, double rowLossScale)
        where TJob : struct, IRowJob
    {
        double primary = 0, secondary = 0;
        double[] perRow = ArrayPool<double>.Shared.Rent(rows * 2);
        try
        {
            Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = degree }, block =>
            {
                int end = Math.Min(rows, (block + 1) * rowsPerBlock);
                for (int row = block * rowsPerBlock; row < end; row++)
                {
                    RowLoss loss = job.Run(row);
                    perRow[2 * row] = loss.Primary;
                    perRow[(2 * row) + 1] = loss.Secondary;
                }
            });

            for (int row = 0; row < rows; row++)
            {
                primary += perRow[2 * row];
                secondary += perRow[(2 * row) + 1];
                if (!rowLosses.IsEmpty)
                {
                    rowLosses[row] = (float)(perRow[2 * row] * rowLossScale);
                }
            }

            return new RowLoss(primary, secondary);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(perRow);
        }
    }
}
