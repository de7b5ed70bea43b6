namespace KnowledgeDistillation.Onnx.Protobuf;

/// <summary>
/// Walks protobuf wire format without a schema, to check that bytes are a well-formed message before a native parser sees
/// them (so truncated or foreign files become clear errors).
/// </summary>
internal static class ProtoReader
{
    /// <summary>One top-level field: number, wire type and, for length-delimited fields, the payload's range.</summary>
    public readonly record struct Field(int Number, int WireType, ulong Varint, int Offset, int Length);

    /// <summary>Reads the top-level fields of a message, or returns an error describing the first malformed byte.</summary>
    public static bool TryReadFields(ReadOnlySpan<byte> data, List<Field> fields, out string? error)
    {
        int position = 0;
        while (position < data.Length)
        {
            int start = position;
            if (!TryVarint(data, ref position, out ulong tag))
            {
                error = $"a field tag at byte {start} runs past the end of the file";
                return false;
            }
            int number = (int)(tag >> 3);
            int wireType = (int)(tag & 7);
            if (number < 1)
            {
                error = $"invalid field number 0 at byte {start}";
                return false;
            }
            switch (wireType)
            {
                case 0:
                    if (!TryVarint(data, ref position, out ulong value))
                    {
                        error = $"field {number} at byte {start}: a varint runs past the end of the file";
                        return false;
                    }
                    fields.Add(new Field(number, wireType, value, 0, 0));
                    break;
                case 1:
                case 5:
                    int size = wireType == 1 ? 8 : 4;
                    if (data.Length - position < size)
                    {
                        error = $"field {number} at byte {start}: a fixed-size value runs past the end of the file";
                        return false;
                    }
                    fields.Add(new Field(number, wireType, 0, position, size));
                    position += size;
                    break;
                case 2:
                    if (!TryVarint(data, ref position, out ulong length) || length > (ulong)(data.Length - position))
                    {
                        error = $"field {number} at byte {start} declares {length} bytes but only {data.Length - position} remain (truncated file?)";
                        return false;
                    }
                    fields.Add(new Field(number, wireType, 0, position, (int)length));
                    position += (int)length;
                    break;
                default:
                    error = $"unsupported wire type {wireType} for field {number} at byte {start}";
                    return false;
            }
        }
        error = null;
        return true;
    }

    private static bool TryVarint(ReadOnlySpan<byte> data, ref int position, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (position >= data.Length)
            {
                return false;
            }
            byte b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }
        return false;
    }
}
