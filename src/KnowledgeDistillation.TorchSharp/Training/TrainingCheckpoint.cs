using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KnowledgeDistillation.IO;
using KnowledgeDistillation.Training;

namespace KnowledgeDistillation.TorchSharp.Training;

/// <summary>
/// The on-disk training state: student weights, optimizer state, position (epochs and steps done), seed, and the
/// history so far. Layout: magic <c>KDCKPT01</c>, a JSON header (length-prefixed), the student and optimizer
/// sections, and a SHA-256 of everything before it. Written through a temporary file and an atomic rename; read
/// only after the checksum and sizes are verified, so a truncated or corrupt file is an <see cref="InvalidDataException"/>.
/// </summary>
public sealed class TrainingCheckpoint
{
    private static readonly byte[] Magic = "KDCKPT01"u8.ToArray();
    private const int HashLength = 32;

    /// <summary>The header.</summary>
    public required CheckpointHeader Header { get; init; }

    /// <summary>The student weights (TorchSharp format).</summary>
    public required byte[] StudentWeights { get; init; }

    /// <summary>The optimizer state (TorchSharp format).</summary>
    public required byte[] OptimizerState { get; init; }

    /// <summary>Writes the checkpoint atomically: readers see the previous file or the complete new one, never a mix.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        byte[] header = JsonSerializer.SerializeToUtf8Bytes(Header with { StudentBytes = StudentWeights.Length, OptimizerBytes = OptimizerState.Length });
        AtomicFile.Write(path, file =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            void Write(ReadOnlySpan<byte> bytes)
            {
                file.Write(bytes);
                hash.AppendData(bytes);
            }
            Write(Magic);
            Write(BitConverter.GetBytes(header.Length));
            Write(header);
            Write(StudentWeights);
            Write(OptimizerState);
            file.Write(hash.GetHashAndReset());
        });
    }

    /// <summary>Reads and verifies a checkpoint.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a checkpoint, is truncated, or its checksum does not match.</exception>
    public static TrainingCheckpoint Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        }
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < Magic.Length || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"'{path}' is not a KnowledgeDistillation checkpoint (bad magic number).");
        }
        if (bytes.Length < Magic.Length + 4 + HashLength)
        {
            throw new InvalidDataException($"Checkpoint '{path}' is truncated ({bytes.Length} bytes).");
        }
        int body = bytes.Length - HashLength;
        if (!SHA256.HashData(bytes.AsSpan(0, body)).AsSpan().SequenceEqual(bytes.AsSpan(body)))
        {
            throw new InvalidDataException($"Checkpoint '{path}' is truncated or corrupt (SHA-256 mismatch); it was not loaded. Resume from an earlier checkpoint or start again.");
        }
        int headerLength = BitConverter.ToInt32(bytes, Magic.Length);
        int at = Magic.Length + 4;
        if (headerLength <= 0 || at + headerLength > body)
        {
            throw new InvalidDataException($"Checkpoint '{path}' has an invalid header length {headerLength}.");
        }
        CheckpointHeader header;
        try
        {
            header = JsonSerializer.Deserialize<CheckpointHeader>(bytes.AsSpan(at, headerLength))
                ?? throw new InvalidDataException($"Checkpoint '{path}' has an empty header.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Checkpoint '{path}' has an unreadable header: {ex.Message}", ex);
        }
        if (header.FormatVersion != CheckpointHeader.CurrentFormatVersion)
        {
            throw new InvalidDataException($"Checkpoint '{path}' has format version {header.FormatVersion}; this library reads version {CheckpointHeader.CurrentFormatVersion}.");
        }
        at += headerLength;
        if ((long)at + header.StudentBytes + header.OptimizerBytes != body || header.StudentBytes < 0 || header.OptimizerBytes < 0)
        {
            throw new InvalidDataException($"Checkpoint '{path}' sections ({header.StudentBytes} + {header.OptimizerBytes} bytes) do not match the file size.");
        }
        return new TrainingCheckpoint
        {
            Header = header,
            StudentWeights = bytes.AsSpan(at, header.StudentBytes).ToArray(),
            OptimizerState = bytes.AsSpan(at + header.StudentBytes, header.OptimizerBytes).ToArray(),
        };
    }
}

/// <summary>The metadata of a <see cref="TrainingCheckpoint"/>.</summary>
public sealed record CheckpointHeader
{
    /// <summary>The format version this library writes.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>The format version.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Epochs completed.</summary>
    public int EpochsCompleted { get; init; }

    /// <summary>Optimisation steps completed.</summary>
    public long Step { get; init; }

    /// <summary>The run's seed.</summary>
    public int Seed { get; init; }

    /// <summary>The student's name.</summary>
    public string StudentName { get; init; } = "";

    /// <summary>The optimizer type name.</summary>
    public string Optimizer { get; init; } = "";

    /// <summary>Length of the student section.</summary>
    public int StudentBytes { get; init; }

    /// <summary>Length of the optimizer section.</summary>
    public int OptimizerBytes { get; init; }

    /// <summary>When it was written (UTC).</summary>
    public DateTimeOffset CreatedUtc { get; init; }

    /// <summary>The epochs completed so far.</summary>
    public IReadOnlyList<EpochSummary> History { get; init; } = [];
}
