using System.Buffers.Binary;
using System.Security.Cryptography;
using KnowledgeDistillation.Abstractions;

namespace KnowledgeDistillation.IO;

/// <summary>
/// A student's weights on disk, with a checksum: magic <c>KDWEIGHT</c>, a format version, the payload length and the
/// SHA-256 of the payload (the backend's own weights format, <see cref="IStudent.SaveWeights"/>), then the payload. Written
/// atomically (<see cref="AtomicFile"/>); read only after the length and checksum are verified, so a truncated file or a
/// flipped bit is an <see cref="InvalidDataException"/>, never weights that load silently wrong.
/// </summary>
public static class WeightsFile
{
    /// <summary>The file name extension the tools use.</summary>
    public const string Extension = ".weights";

    private static readonly byte[] Magic = "KDWEIGHT"u8.ToArray();
    private const int Version = 1;
    private const int HeaderLength = 8 + 4 + 8 + 32;

    /// <summary>Writes <paramref name="student"/>'s weights to <paramref name="path"/> atomically, with a checksum.</summary>
    /// <returns>The size of the file in bytes.</returns>
    public static long Save(IStudent student, string path)
    {
        ArgumentNullException.ThrowIfNull(student);
        using var payload = new MemoryStream();
        student.SaveWeights(payload);
        byte[] bytes = payload.ToArray();
        var header = new byte[HeaderLength];
        Magic.CopyTo(header, 0);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), Version);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(12), bytes.Length);
        SHA256.HashData(bytes).CopyTo(header, 20);
        AtomicFile.Write(path, stream =>
        {
            stream.Write(header);
            stream.Write(bytes);
        });
        return header.Length + bytes.Length;
    }

    /// <summary>Loads weights written by <see cref="Save"/> into <paramref name="student"/> (the same architecture).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">It is not a weights file, is truncated or damaged (checksum), or does not fit the model; the model keeps its previous weights.</exception>
    public static void Load(IStudent student, string path)
    {
        ArgumentNullException.ThrowIfNull(student);
        using var payload = new MemoryStream(ReadVerified(path), writable: false);
        try
        {
            student.LoadWeights(payload);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"Weights file '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>Reads and verifies a weights file, returning the payload.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">It is not a weights file, or it is truncated or damaged.</exception>
    public static byte[] ReadVerified(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Weights file '{path}' does not exist.", path);
        }
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < Magic.Length || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"'{path}' is not a KnowledgeDistillation weights file (no KDWEIGHT header; files written before checksums were added must be written again).");
        }
        if (bytes.Length < HeaderLength)
        {
            throw new InvalidDataException($"Weights file '{path}' is truncated ({bytes.Length} bytes).");
        }
        int version = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        if (version != Version)
        {
            throw new InvalidDataException($"Weights file '{path}' has format version {version}; this library reads version {Version}.");
        }
        long length = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(12));
        if (length != bytes.Length - HeaderLength)
        {
            throw new InvalidDataException($"Weights file '{path}' is truncated or padded: the header promises {length} bytes of weights, the file holds {bytes.Length - HeaderLength}.");
        }
        byte[] body = bytes[HeaderLength..];
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(20, 32)))
        {
            throw new InvalidDataException($"Weights file '{path}' is damaged (SHA-256 mismatch); it was not loaded. Write it again (retrain, or copy it from a good source).");
        }
        return body;
    }
}
