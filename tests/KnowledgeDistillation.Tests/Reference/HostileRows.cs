namespace KnowledgeDistillation.Tests.Reference;

/// <summary>
/// Hostile but legal rows for the sparse and sequence losses (12 classes, a teacher's top 4): teacher entries at a mask
/// value (−1e30), student logits at mask values outside the top-k (its leftover underflows), logits of ±1e3 and ±1e4,
/// rows near −1e4, and neutral shifts of ±300 and ±3000 (softmax does not change). Each row has the teacher's top-k
/// indices, its logits there and its full-vocabulary log-probabilities there (as an API or a cache gives them).
/// </summary>
internal static class HostileRows
{
    public const int Classes = 12, K = 4;
    public const float Mask = -1e30f;

    public static IReadOnlyList<HostileRow> All()
    {
        var random = new Random(20260316);
        float[] Uniform(float scale) => [.. Enumerable.Range(0, Classes).Select(_ => ((random.NextSingle() * 2) - 1) * scale)];
        var rows = new List<HostileRow>();
        void Add(string name, float[] student, float[] teacherRow, Func<float[], float[]>? logits = null, Func<float[], float[]>? logProbabilities = null)
        {
            int[] indices = [.. Enumerable.Range(0, Classes).OrderByDescending(i => teacherRow[i]).ThenBy(i => i).Take(K)];
            double max = teacherRow.Max(v => (double)v);
            double logSum = Math.Log(teacherRow.Sum(v => Math.Exp(v - max)));
            float[] teacherLogits = [.. indices.Select(i => teacherRow[i])];
            float[] teacherLogProbabilities = [.. indices.Select(i => (float)((teacherRow[i] - max) - logSum))];
            rows.Add(new HostileRow(name, student, indices, logits?.Invoke(teacherLogits) ?? teacherLogits, logProbabilities?.Invoke(teacherLogProbabilities) ?? teacherLogProbabilities, teacherRow));
        }

        float[] Shift(float[] x, float by) => [.. x.Select(v => v + by)];
        Add("ordinary", Uniform(3), Uniform(3));
        Add("teacher top-k at a mask value", Uniform(3), Uniform(3), l => [.. l.Select(_ => Mask)], p => [.. p.Select(_ => Mask)]);
        Add("teacher top-k half at a mask value", Uniform(3), Uniform(3), l => [l[0], l[1], Mask, Mask], p => [p[0], p[1], Mask, Mask]);
        Add("teacher logits ±1e4", Uniform(3), Uniform(1e4f));
        foreach (float shift in new[] { 300f, -300f, 3000f, -3000f })
        {
            float[] s = Uniform(3), t = Uniform(3);
            Add($"student and teacher logits shifted by {shift}", Shift(s, shift), Shift(t, shift));
        }
        Add("student near -1e4", Shift(Uniform(3), -1e4f), Uniform(3));
        Add("student ±1e3", Uniform(1e3f), Uniform(3));
        Add("student ±1e4", Uniform(1e4f), Uniform(3));
        {
            float[] teacher = Uniform(3);
            int[] top = [.. Enumerable.Range(0, Classes).OrderByDescending(i => teacher[i]).ThenBy(i => i).Take(K)];
            float[] masked = Uniform(3), half = Uniform(3);
            int n = 0;
            for (int j = 0; j < Classes; j++)
            {
                if (!top.Contains(j))
                {
                    masked[j] = Mask;
                    half[j] = n++ % 2 == 0 ? Mask : half[j];
                }
            }
            Add("student at mask values outside the top-k (no leftover)", masked, teacher);
            Add("student half at mask values outside the top-k", half, teacher);
        }
        return rows;
    }
}
