namespace KnowledgeDistillation.Tests.Reference;

/// <summary>One row of <see cref="HostileRows"/>.</summary>
/// <param name="Name">What makes it hostile.</param>
/// <param name="Student">The student's logits, <see cref="HostileRows.Classes"/> of them.</param>
/// <param name="Indices">The teacher's top-k ids.</param>
/// <param name="TeacherLogits">The teacher's logits at those ids.</param>
/// <param name="TeacherLogProbabilities">The teacher's full-vocabulary log-probabilities at those ids.</param>
/// <param name="TeacherRow">The teacher's full row of logits.</param>
internal sealed record HostileRow(string Name, float[] Student, int[] Indices, float[] TeacherLogits, float[] TeacherLogProbabilities, float[] TeacherRow)
{
    public override string ToString() => Name;
}
