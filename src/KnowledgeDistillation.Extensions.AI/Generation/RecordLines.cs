using System.Text.Json;

namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>Reads the id and the error flag of a record line without deserialising the whole record.</summary>
internal static class RecordLines
{
    /// <summary>Parses one line. False (with the problem) when it is not one complete JSON object with a string id.</summary>
    public static bool TryReadId(ReadOnlySpan<byte> json, out string? id, out bool isError, out string? problem)
    {
        id = null;
        isError = false;
        problem = null;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                problem = "not a JSON object";
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    id = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    isError = reader.TokenType != JsonTokenType.Null;
                    reader.Skip();
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                problem = "not one complete JSON object";
                return false;
            }
        }
        catch (JsonException e)
        {
            problem = $"not valid JSON: {e.Message}";
            return false;
        }
        catch (InvalidOperationException e)
        {
            problem = $"not valid JSON: {e.Message}";
            return false;
        }
        if (string.IsNullOrEmpty(id))
        {
            problem = "no \"id\"";
            return false;
        }
        return true;
    }

    /// <summary>Whether an IOException from opening a file is another process's (or stream's) lock on it.</summary>
    public static bool IsLockConflict(IOException e) =>
        e.HResult is 11 /* EWOULDBLOCK/EAGAIN from flock on Unix */
            or unchecked((int)0x80070020) /* ERROR_SHARING_VIOLATION */
            or unchecked((int)0x80070021) /* ERROR_LOCK_VIOLATION */;
}
