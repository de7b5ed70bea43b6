using System.Buffers.Binary;
using System.IO.Compression;

namespace KnowledgeDistillation.Datasets;

/// <summary>
/// Reads the IDX format used by MNIST and Fashion-MNIST (plain or gzip-compressed, detected from the content).
/// </summary>
/// <remarks>
/// An IDX file starts with a magic number <c>0x00 0x00 type dims</c>, then one big-endian 32-bit size per
/// dimension, then the data. Only unsigned-byte data (<c>type = 0x08</c>) is supported, which is what the MNIST
/// family uses. Every malformed file is reported as an <see cref="InvalidDataException"/> naming the file.
/// </remarks>
public static class IdxReader
{
    private const byte UnsignedByteType = 0x08;

    /// <summary>Reads an IDX file of unsigned bytes.</summary>
    /// <param name="path">Path to the file (<c>.gz</c> or plain; the gzip header is detected, not the extension).</param>
    /// <param name="expectedDimensions">The number of dimensions the caller expects (1 for labels, 3 for images).</param>
    /// <returns>The shape and the raw bytes.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not IDX, has an unexpected type or rank, or is truncated.</exception>
    public static IdxArray Read(string path, int expectedDimensions)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(expectedDimensions, 1);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        }

        using FileStream file = File.OpenRead(path);
        using Stream stream = IsGzip(file) ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            return Read(stream, path, expectedDimensions);
        }
        catch (InvalidDataException ex) when (!ex.Message.StartsWith("IDX file", StringComparison.Ordinal))
        {
            // GZipStream reports corrupt compressed data without naming the file.
            throw new InvalidDataException($"IDX file '{path}' is corrupt: {ex.Message}", ex);
        }
    }

    /// <summary>Reads IDX labels (rank 1).</summary>
    public static byte[] ReadLabels(string path) => Read(path, 1).Data;

    /// <summary>Reads IDX images (rank 3: count × rows × columns).</summary>
    public static IdxArray ReadImages(string path) => Read(path, 3);

    private static IdxArray Read(Stream stream, string path, int expectedDimensions)
    {
        Span<byte> header = stackalloc byte[4];
        ReadExactly(stream, header, path, "magic number");
        if (header[0] != 0 || header[1] != 0)
        {
            throw new InvalidDataException(
                $"IDX file '{path}' has a wrong magic number 0x{header[0]:X2}{header[1]:X2}{header[2]:X2}{header[3]:X2}: an IDX file starts with two zero bytes. Is it an IDX file?");
        }
        if (header[2] != UnsignedByteType)
        {
            throw new InvalidDataException(
                $"IDX file '{path}' has element type 0x{header[2]:X2}; only unsigned bytes (0x08) are supported.");
        }
        if (header[3] != expectedDimensions)
        {
            throw new InvalidDataException(
                $"IDX file '{path}' has {header[3]} dimensions where {expectedDimensions} were expected (labels have 1, images 3). Were the image and label files swapped?");
        }

        int[] shape = new int[expectedDimensions];
        long total = 1;
        Span<byte> size = stackalloc byte[4];
        for (int d = 0; d < shape.Length; d++)
        {
            ReadExactly(stream, size, path, $"size of dimension {d}");
            int value = BinaryPrimitives.ReadInt32BigEndian(size);
            if (value < 0)
            {
                throw new InvalidDataException($"IDX file '{path}' has a negative size {value} for dimension {d}.");
            }
            shape[d] = value;
            total *= value;
        }
        if (total > Array.MaxLength)
        {
            throw new InvalidDataException($"IDX file '{path}' declares {total} elements, more than one array can hold.");
        }

        byte[] data = new byte[total];
        int read = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        if (read < data.Length)
        {
            throw new InvalidDataException(
                $"IDX file '{path}' is truncated: its header declares {total} elements of shape [{string.Join(", ", shape)}] but only {read} bytes follow.");
        }
        return new IdxArray(shape, data);
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string path, string what)
    {
        if (stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false) < buffer.Length)
        {
            throw new InvalidDataException($"IDX file '{path}' is truncated: it ends inside the header ({what}).");
        }
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> magic = stackalloc byte[2];
        int read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
    }
}
