using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace KnowledgeDistillation.Kernels;

/// <summary>
/// Top-k of one row with a size-k min-heap kept in the destination spans: whole vectors that cannot beat the current
/// k-th value are skipped with one compare, so the common case reads the row at memory speed.
/// Order: descending value, ties broken by the lower index (deterministic).
/// </summary>
internal static class TopKSelection
{
    internal static void Select(ReadOnlySpan<float> row, Span<int> indices, Span<float> values)
    {
        int k = indices.Length;
        for (int i = 0; i < k; i++)
        {
            indices[i] = i;
            values[i] = row[i];
            SiftUp(indices, values, i);
        }

        ref float x = ref MemoryMarshal.GetReference(row);
        int position = k;
        while (position < row.Length)
        {
            float threshold = values[0];
            if (Vector512.IsHardwareAccelerated && row.Length - position >= Vector512<float>.Count)
            {
                if (!Vector512.GreaterThanAny(Vector512.LoadUnsafe(ref x, (nuint)position), Vector512.Create(threshold)))
                {
                    position += Vector512<float>.Count;
                    continue;
                }

                int end = position + Vector512<float>.Count;
                for (; position < end; position++)
                {
                    Offer(indices, values, position, Unsafe.Add(ref x, position));
                }

                continue;
            }

            if (Vector256.IsHardwareAccelerated && row.Length - position >= Vector256<float>.Count)
            {
                if (!Vector256.GreaterThanAny(Vector256.LoadUnsafe(ref x, (nuint)position), Vector256.Create(threshold)))
                {
                    position += Vector256<float>.Count;
                    continue;
                }

                int end = position + Vector256<float>.Count;
                for (; position < end; position++)
                {
                    Offer(indices, values, position, Unsafe.Add(ref x, position));
                }

                continue;
            }

            Offer(indices, values, position, Unsafe.Add(ref x, position));
            position++;
        }

        // Heap sort with a "worst at the root" heap leaves the best entries first.
        for (int end = k - 1; end > 0; end--)
        {
            Swap(indices, values, 0, end);
            SiftDown(indices, values, 0, end);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Offer(Span<int> indices, Span<float> values, int index, float value)
    {
        // Later indices lose ties, so only a strictly larger value enters.
        if (value > values[0])
        {
            values[0] = value;
            indices[0] = index;
            SiftDown(indices, values, 0, indices.Length);
        }
    }

    private static bool Worse(Span<int> indices, Span<float> values, int a, int b) =>
        values[a] < values[b] || (values[a] == values[b] && indices[a] > indices[b]);

    private static void SiftUp(Span<int> indices, Span<float> values, int node)
    {
        while (node > 0)
        {
            int parent = (node - 1) / 2;
            if (!Worse(indices, values, node, parent))
            {
                return;
            }

            Swap(indices, values, node, parent);
            node = parent;
        }
    }

    private static void SiftDown(Span<int> indices, Span<float> values, int node, int count)
    {
        while (true)
        {
            int left = (2 * node) + 1;
            if (left >= count)
            {
                return;
            }

            int worst = left;
            if (left + 1 < count && Worse(indices, values, left + 1, left))
            {
                worst = left + 1;
            }

            if (!Worse(indices, values, worst, node))
            {
                return;
            }

            Swap(indices, values, node, worst);
            node = worst;
        }
    }

    private static void Swap(Span<int> indices, Span<float> values, int a, int b)
    {
        (indices[a], indices[b]) = (indices[b], indices[a]);
        (values[a], values[b]) = (values[b], values[a]);
    }
}
