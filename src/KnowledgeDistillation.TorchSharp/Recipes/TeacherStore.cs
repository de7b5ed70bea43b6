using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.IO;

namespace KnowledgeDistillation.TorchSharp.Recipes;

/// <summary>
/// Trained teachers kept on disk by a key that names everything their training depended on (architecture, data,
/// budget, seed, library version): the first run trains and saves the teacher (atomically, with a checksum,
/// <see cref="WeightsFile"/>), later runs load it. A damaged file is not used: the teacher is trained again.
/// </summary>
/// <param name="directory">The folder of the store (created on first save).</param>
public sealed class TeacherStore(string directory)
{
    /// <summary>The folder.</summary>
    public string Directory { get; } = string.IsNullOrWhiteSpace(directory) ? throw new ArgumentException("Give the teacher store a folder.", nameof(directory)) : directory;

    /// <summary>A 16-hex-digit key from the parts that identify a teacher's training.</summary>
    public static string Key(params string[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('|', parts))))[..16];
    }

    /// <summary>The file of the teacher stored under <paramref name="key"/>.</summary>
    public string PathFor(string key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        return Path.Combine(Directory, $"teacher-{key}{WeightsFile.Extension}");
    }

    /// <summary>
    /// Loads the teacher stored under <paramref name="key"/> into <paramref name="model"/>, or, when there is none (or it is
    /// damaged), runs <paramref name="train"/> on <paramref name="model"/> and stores the result.
    /// </summary>
    /// <param name="key">The teacher's key (<see cref="Key"/>).</param>
    /// <param name="model">A freshly built model of the teacher's architecture.</param>
    /// <param name="train">Trains <paramref name="model"/>.</param>
    /// <param name="log">Receives one line about what happened; null for none.</param>
    /// <param name="cancellationToken">Cancels the training (nothing is stored then).</param>
    public async Task<StoredTeacher> GetOrTrainAsync(string key, IStudent model, Func<CancellationToken, Task> train, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        string path = PathFor(key);
        if (File.Exists(path))
        {
            try
            {
                WeightsFile.Load(model, path);
                log?.Invoke($"teacher loaded from cache {path}");
                return new StoredTeacher(path, Trained: false, TimeSpan.Zero);
            }
            catch (InvalidDataException ex)
            {
                log?.Invoke($"cached teacher {path} is unusable ({ex.Message}); training it again");
            }
        }
        var clock = Stopwatch.StartNew();
        await train(cancellationToken).ConfigureAwait(false);
        WeightsFile.Save(model, path);
        return new StoredTeacher(path, Trained: true, clock.Elapsed);
    }

    /// <summary>A teacher's identity for teacher caches: its architecture and a hash of its weights file.</summary>
    public static string TeacherId(string architecture, string weightsPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(architecture);
        using FileStream stream = File.OpenRead(weightsPath);
        return $"{architecture}@{Convert.ToHexStringLower(SHA256.HashData(stream))[..16]}";
    }
}

/// <summary>Where a stored teacher is and whether this call trained it.</summary>
/// <param name="Path">The weights file.</param>
/// <param name="Trained">True when it was trained now (no usable file was stored).</param>
/// <param name="TrainingTime">The training time when trained now; zero when loaded.</param>
public sealed record StoredTeacher(string Path, bool Trained, TimeSpan TrainingTime);
