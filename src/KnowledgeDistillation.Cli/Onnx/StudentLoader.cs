using KnowledgeDistillation.IO;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Training;

namespace KnowledgeDistillation.Cli.Onnx;

/// <summary>Loads a student from a weights file written by <c>kd distill</c> (needs the architecture) or a <c>.kdckpt</c> training checkpoint.</summary>
internal static class StudentLoader
{
    public static readonly int[] ImageShape = [1, 28, 28];

    public static TorchModel Load(string path, string? architecture)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        }
        byte[] weights;
        using (FileStream probe = File.OpenRead(path))
        {
            byte[] magic = new byte[8];
            int read = probe.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false);
            bool isCheckpoint = read == 8 && magic.AsSpan().SequenceEqual("KDCKPT01"u8);
            if (isCheckpoint)
            {
                probe.Close();
                TrainingCheckpoint checkpoint = TrainingCheckpoint.Load(path);
                architecture ??= string.IsNullOrWhiteSpace(checkpoint.Header.StudentName) ? null : checkpoint.Header.StudentName;
                weights = checkpoint.StudentWeights;
            }
            else
            {
                probe.Close();
                if (architecture is null)
                {
                    throw new ArgumentException($"'{path}' is a weights file: give the student's architecture with --arch (for example cnn:16,32).", "--arch");
                }
                weights = WeightsFile.ReadVerified(path);
            }
        }
        if (architecture is null)
        {
            throw new ArgumentException($"Checkpoint '{path}' does not name its student's architecture: give it with --arch (for example cnn:16,32).", "--arch");
        }
        TorchModel model = TorchModel.FromPreset(architecture, ImageShape, 10, seed: 0);
        try
        {
            using var stream = new MemoryStream(weights);
            model.LoadWeights(stream);
        }
        catch (InvalidDataException ex)
        {
            model.Dispose();
            throw new InvalidDataException($"The weights in '{path}' do not fit architecture '{architecture}': {ex.Message}", ex);
        }
        return model;
    }
}
