using Microsoft.Extensions.AI;

namespace KnowledgeDistillation.Extensions.AI.Teachers;

/// <summary>One prompt for an LLM teacher: a stable identifier and the conversation to send.</summary>
/// <remarks>
/// The identifier is what makes a run resumable: the output holds one record per identifier, and a rerun skips
/// identifiers that already have a record. The teacher's system prompt (if any) is put in front of <see cref="Messages"/>.
/// </remarks>
public sealed class TeacherPrompt
{
    /// <summary>Creates a prompt.</summary>
    /// <param name="id">A stable, non-empty identifier, unique within a run.</param>
    /// <param name="messages">The conversation (at least one message).</param>
    public TeacherPrompt(string id, IReadOnlyList<ChatMessage> messages)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            throw new ArgumentException($"Prompt '{id}' has no messages: give at least one user message.", nameof(messages));
        }
        Id = id;
        Messages = messages;
    }

    /// <summary>Creates a prompt holding one user message.</summary>
    public static TeacherPrompt FromText(string id, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new TeacherPrompt(id, [new ChatMessage(ChatRole.User, text)]);
    }

    /// <summary>The stable identifier.</summary>
    public string Id { get; }

    /// <summary>The conversation sent to the model.</summary>
    public IReadOnlyList<ChatMessage> Messages { get; }
}
