using System.Globalization;

namespace KnowledgeDistillation.Sequences;

/// <summary>
/// Maps teacher token ids to student token ids when the two models use different tokenizers whose vocabularies overlap
/// (for example the same byte-level alphabet with different merges, matched by token string). Teacher tokens without a
/// student counterpart map to −1: their probability is dropped and the teacher distribution renormalised over the rest.
/// Several teacher tokens may map to one student token; their probabilities add up.
/// </summary>
/// <remarks>
/// This is the honest limit of token-level distillation across tokenizers: only tokens both vocabularies share can be
/// compared one-to-one. Multi-token alignments (ULD, MinED) are out of scope; use sequence-level distillation instead.
/// </remarks>
public sealed class TokenMapping
{
    private readonly int[] _teacherToStudent;

    /// <summary>Creates a mapping.</summary>
    /// <param name="teacherToStudent">For each teacher token id, the student token id, or −1 for none.</param>
    /// <param name="studentVocabularySize">The student vocabulary size; every mapped id must be below it.</param>
    public TokenMapping(IReadOnlyList<int> teacherToStudent, int studentVocabularySize)
    {
        ArgumentNullException.ThrowIfNull(teacherToStudent);
        if (studentVocabularySize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(studentVocabularySize), studentVocabularySize, "studentVocabularySize must be ≥ 1.");
        }

        _teacherToStudent = new int[teacherToStudent.Count];
        int mapped = 0;
        for (int i = 0; i < _teacherToStudent.Length; i++)
        {
            int s = teacherToStudent[i];
            if (s < -1 || s >= studentVocabularySize)
            {
                throw new ArgumentOutOfRangeException(nameof(teacherToStudent), s, string.Create(CultureInfo.InvariantCulture, $"teacherToStudent[{i}] = {s} is outside [−1, {studentVocabularySize}); use −1 for a teacher token the student lacks."));
            }

            _teacherToStudent[i] = s;
            mapped += s >= 0 ? 1 : 0;
        }

        if (mapped == 0)
        {
            throw new ArgumentException("The token mapping maps no teacher token to a student token; nothing could be distilled.", nameof(teacherToStudent));
        }

        StudentVocabularySize = studentVocabularySize;
        MappedTokens = mapped;
    }

    /// <summary>Teacher vocabulary size (the mapping's length).</summary>
    public int TeacherVocabularySize => _teacherToStudent.Length;

    /// <summary>Student vocabulary size.</summary>
    public int StudentVocabularySize { get; }

    /// <summary>The number of teacher tokens with a student counterpart.</summary>
    public int MappedTokens { get; }

    /// <summary>The student id of teacher token <paramref name="teacherToken"/>, or −1.</summary>
    public int this[int teacherToken] => _teacherToStudent[teacherToken];

    /// <summary>The identity mapping over <paramref name="size"/> tokens.</summary>
    public static TokenMapping Identity(int size) => new(Enumerable.Range(0, size).ToArray(), size);

    /// <summary>
    /// Matches two vocabularies by token string (exact match), the usual way to align tokenizers that share most tokens.
    /// </summary>
    /// <param name="teacherTokens">Teacher token strings by id.</param>
    /// <param name="studentTokens">Student token strings by id.</param>
    public static TokenMapping ByTokenString(IReadOnlyList<string> teacherTokens, IReadOnlyList<string> studentTokens)
    {
        ArgumentNullException.ThrowIfNull(teacherTokens);
        ArgumentNullException.ThrowIfNull(studentTokens);
        var studentIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < studentTokens.Count; i++)
        {
            studentIds.TryAdd(studentTokens[i], i);
        }

        var map = new int[teacherTokens.Count];
        for (int i = 0; i < map.Length; i++)
        {
            map[i] = studentIds.TryGetValue(teacherTokens[i], out int s) ? s : -1;
        }

        return new TokenMapping(map, studentTokens.Count);
    }

    internal ReadOnlySpan<int> AsSpan() => _teacherToStudent;
}
