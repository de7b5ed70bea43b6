using System.Security.Cryptography;
using System.Text;

namespace KnowledgeDistillation.Onnx.Tests.Export;

/// <summary>
/// Fingerprints an exported model: the SHA-256 of its bytes without the two fields that change from run to run
/// (producer_version carries the build's commit, metadata <c>kd.exported_at</c> the clock).
/// </summary>
internal static class ExportedBytes
{
    public static string Fingerprint(byte[] model)
    {
        using var stable = new MemoryStream();
        int producerVersions = 0, timestamps = 0;
        int position = 0;
        while (position < model.Length)
        {
            int start = position;
            ulong tag = Varint(model, ref position);
            int number = (int)(tag >> 3);
            switch ((int)(tag & 7))
            {
                case 0:
                    Varint(model, ref position);
                    break;
                case 1:
                    position += 8;
                    break;
                case 5:
                    position += 4;
                    break;
                case 2:
                    int length = (int)Varint(model, ref position);
                    int payload = position;
                    position += length;
                    if (number == 3)
                    {
                        producerVersions++;
                        continue;
                    }
                    if (number == 14 && MetadataKey(model.AsSpan(payload, length)) == "kd.exported_at")
                    {
                        timestamps++;
                        continue;
                    }
                    break;
                default:
                    throw new InvalidDataException($"Unexpected wire type at byte {start}.");
            }
            stable.Write(model, start, position - start);
        }
        producerVersions.Should().Be(1, "an export writes one producer_version");
        timestamps.Should().Be(1, "an export writes one kd.exported_at");
        return Convert.ToHexStringLower(SHA256.HashData(stable.ToArray()));
    }

    private static string? MetadataKey(ReadOnlySpan<byte> entry)
    {
        // StringStringEntryProto: key is field 1 (length-delimited) and written first.
        if (entry.Length < 2 || entry[0] != ((1 << 3) | 2))
        {
            return null;
        }
        int position = 1;
        byte[] bytes = entry.ToArray();
        int length = (int)Varint(bytes, ref position);
        return Encoding.UTF8.GetString(bytes, position, length);
    }

    private static ulong Varint(byte[] data, ref int position)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }
}
