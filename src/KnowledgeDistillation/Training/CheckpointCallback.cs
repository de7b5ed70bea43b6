using System.Globalization;

namespace KnowledgeDistillation.Training;

/// <summary>Writes a checkpoint every <see cref="EveryEpochs"/> epochs to <c>{Directory}/epoch-{n}.kdckpt</c> and keeps the last <see cref="KeepLast"/>.</summary>
public sealed class CheckpointCallback : IDistillationCallback
{
    /// <summary>The file name pattern's extension.</summary>
    public const string Extension = ".kdckpt";

    /// <summary>Creates the callback.</summary>
    public CheckpointCallback(string directory, int everyEpochs = 1, int keepLast = 2)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentOutOfRangeException.ThrowIfLessThan(everyEpochs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(keepLast, 1);
        Directory = directory;
        EveryEpochs = everyEpochs;
        KeepLast = keepLast;
    }

    /// <summary>The folder.</summary>
    public string Directory { get; }

    /// <summary>Epochs between checkpoints.</summary>
    public int EveryEpochs { get; }

    /// <summary>How many checkpoints to keep.</summary>
    public int KeepLast { get; }

    /// <summary>The path of the checkpoint written after <paramref name="epoch"/> (0-based).</summary>
    public string PathFor(int epoch) => Path.Combine(Directory, string.Create(CultureInfo.InvariantCulture, $"epoch-{epoch + 1:D4}{Extension}"));

    /// <summary>The newest checkpoint in <paramref name="directory"/>, or null.</summary>
    public static string? FindLatest(string directory) =>
        System.IO.Directory.Exists(directory)
            ? System.IO.Directory.GetFiles(directory, "epoch-*" + Extension).Order(StringComparer.Ordinal).LastOrDefault()
            : null;

    /// <inheritdoc />
    public void OnEpochCompleted(EpochSummary epoch, ITrainingControl control)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        ArgumentNullException.ThrowIfNull(control);
        if ((epoch.Epoch + 1) % EveryEpochs != 0)
        {
            return;
        }
        System.IO.Directory.CreateDirectory(Directory);
        control.SaveCheckpoint(PathFor(epoch.Epoch));
        foreach (string old in System.IO.Directory.GetFiles(Directory, "epoch-*" + Extension).Order(StringComparer.Ordinal).SkipLast(KeepLast))
        {
            File.Delete(old);
        }
    }
}
