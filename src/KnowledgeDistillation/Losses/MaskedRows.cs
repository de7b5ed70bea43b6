using System.Buffers;

namespace KnowledgeDistillation.Losses;

/// <summary>
/// Runs a loss on the rows its <see cref="LossInputs.Mask"/> lets in: they are gathered into pooled buffers, the loss
/// computes on them without a mask, and its gradient is scattered back (zero on the masked rows). Row losses call it
/// first thing when <see cref="LossInputs.HasPartialMask"/> is true, so every loss works on masked token positions.
/// </summary>
public static class MaskedRows
{
    /// <summary>Computes <paramref name="loss"/> on the unmasked rows of <paramref name="inputs"/>.</summary>
    /// <exception cref="ArgumentException">The mask has another length than the rows.</exception>
    public static LossValue Compute(IDistillationLoss loss, in LossInputs inputs, Span<float> studentGradient)
    {
        ArgumentNullException.ThrowIfNull(loss);
        int rows = inputs.Rows;
        ReadOnlySpan<bool> mask = inputs.Mask;
        if (mask.Length != rows)
        {
            throw new ArgumentException($"The row mask has {mask.Length} entries but there are {rows} rows (labels); give one entry per row.", nameof(inputs));
        }
        int classes = inputs.ClassCount, teacherClasses = inputs.TeacherClassCount, k = inputs.TeacherTopK;
        if (studentGradient.Length != inputs.StudentLogits.Length)
        {
            throw new ArgumentException($"The gradient has {studentGradient.Length} elements; it must match the student logits ({inputs.StudentLogits.Length}).", nameof(studentGradient));
        }
        int valid = 0;
        foreach (bool v in mask)
        {
            valid += v ? 1 : 0;
        }
        float[] student = ArrayPool<float>.Shared.Rent(Math.Max(1, valid * classes));
        float[] gradient = ArrayPool<float>.Shared.Rent(Math.Max(1, valid * classes));
        int[] labels = ArrayPool<int>.Shared.Rent(Math.Max(1, valid));
        float[]? teacher = inputs.HasDenseTeacher ? ArrayPool<float>.Shared.Rent(Math.Max(1, valid * teacherClasses)) : null;
        int[]? indices = inputs.HasTopKTeacher ? ArrayPool<int>.Shared.Rent(Math.Max(1, valid * k)) : null;
        float[]? values = inputs.HasTopKTeacher ? ArrayPool<float>.Shared.Rent(Math.Max(1, valid * k)) : null;
        try
        {
            int at = 0;
            for (int row = 0; row < rows; row++)
            {
                if (!mask[row])
                {
                    continue;
                }
                inputs.StudentLogits.Slice(row * classes, classes).CopyTo(student.AsSpan(at * classes));
                labels[at] = inputs.Labels[row];
                if (teacher is not null)
                {
                    inputs.TeacherLogits.Slice(row * teacherClasses, teacherClasses).CopyTo(teacher.AsSpan(at * teacherClasses));
                }
                if (indices is not null)
                {
                    inputs.TeacherTopKIndices.Slice(row * k, k).CopyTo(indices.AsSpan(at * k));
                    inputs.TeacherTopKValues.Slice(row * k, k).CopyTo(values.AsSpan(at * k));
                }
                at++;
            }
            var compact = new LossInputs(
                student.AsSpan(0, valid * classes), teacher is null ? [] : teacher.AsSpan(0, valid * teacherClasses), labels.AsSpan(0, valid),
                classes, inputs.Step, inputs.TotalSteps, inputs.Normalizer ?? Math.Max(1, valid))
            {
                TeacherClassCount = teacherClasses,
                TeacherTopK = k,
                TeacherTopKIndices = indices is null ? [] : indices.AsSpan(0, valid * k),
                TeacherTopKValues = values is null ? [] : values.AsSpan(0, valid * k),
                TeacherTopKValueKind = inputs.TeacherTopKValueKind,
            };
            LossValue value = loss.Compute(compact, gradient.AsSpan(0, valid * classes));
            at = 0;
            for (int row = 0; row < rows; row++)
            {
                Span<float> target = studentGradient.Slice(row * classes, classes);
                if (mask[row])
                {
                    gradient.AsSpan(at++ * classes, classes).CopyTo(target);
                }
                else
                {
                    target.Clear();
                }
            }
            return value;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(student);
            ArrayPool<float>.Shared.Return(gradient);
            ArrayPool<int>.Shared.Return(labels);
            if (teacher is not null)
            {
                ArrayPool<float>.Shared.Return(teacher);
            }
            if (indices is not null)
            {
                ArrayPool<int>.Shared.Return(indices);
                ArrayPool<float>.Shared.Return(values!);
            }
        }
    }
}
