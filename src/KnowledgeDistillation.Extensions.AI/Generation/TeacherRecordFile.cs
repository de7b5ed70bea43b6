using System.Runtime.CompilerServices;
using System.Text.Json;

namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>Reads the JSONL output of a generation run.</summary>
public static class TeacherRecordFile
{
    /// <summary>Reads every record, in file order. Blank lines are ignored.</summary>
    /// <exception cref="InvalidDataException">A line is not a record (its number is in the message).</exception>
    public static async IAsyncEnumerable<TeacherRecord> ReadAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using var reader = new StreamReader(path);
        int lineNumber = 0;
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            TeacherRecord? record;
            try
            {
                record = JsonSerializer.Deserialize(line, TeacherJson.Files.TeacherRecord);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}, line {lineNumber}: not a teacher record ({e.Message}).", e);
            }
            yield return record ?? throw new InvalidDataException($"{path}, line {lineNumber}: not a teacher record (null).");
        }
    }
}
