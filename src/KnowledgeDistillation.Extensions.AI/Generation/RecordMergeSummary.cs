namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>What <see cref="TeacherRecordFile.MergeAsync"/> did.</summary>
/// <param name="OutputPath">The merged file.</param>
/// <param name="Inputs">Files read.</param>
/// <param name="LinesRead">Record lines read from all of them.</param>
/// <param name="Records">Records written: exactly one per prompt id.</param>
/// <param name="ErrorRecords">Of those, error records (prompts without an answer in any input).</param>
/// <param name="IdenticalDuplicates">Answers found more than once with the same response text (one kept).</param>
/// <param name="SupersededRecords">Records dropped because a later record (or an answer in another file) replaced them.</param>
public sealed record RecordMergeSummary(string OutputPath, int Inputs, long LinesRead, int Records, int ErrorRecords, int IdenticalDuplicates, int SupersededRecords);
