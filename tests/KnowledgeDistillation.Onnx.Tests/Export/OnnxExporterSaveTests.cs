using KnowledgeDistillation.IO;
using KnowledgeDistillation.Onnx.Export;

namespace KnowledgeDistillation.Onnx.Tests.Export;

public sealed class OnnxExporterSaveTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"kd-save-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private string[] Entries() => Directory.GetFileSystemEntries(_folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Fact]
    public void Save_CreatesTheFolder_AndReplacesAPreviousModel_WithoutLeavingTemporaryFiles()
    {
        string path = Path.Combine(_folder, "models", "student.onnx");
        OnnxExporter.Save([1, 2, 3], path);
        OnnxExporter.Save([4, 5], path);

        File.ReadAllBytes(path).Should().Equal(4, 5);
        Directory.GetFileSystemEntries(Path.Combine(_folder, "models")).Select(Path.GetFileName).Should().Equal("student.onnx");
    }

    [Fact]
    public void Save_WhenTheWriteFails_LeavesThePreviousModel_AndNoTemporaryFile()
    {
        // A full disk cannot be provoked here; a writer failing half-way through stands for it.
        Directory.CreateDirectory(_folder);
        string path = Path.Combine(_folder, "student.onnx");
        OnnxExporter.Save([1, 2, 3], path);

        Action act = () => AtomicFile.Write(path, stream =>
        {
            stream.Write([9, 9]);
            throw new IOException("No space left on device");
        });

        act.Should().Throw<IOException>().WithMessage("No space left on device");
        File.ReadAllBytes(path).Should().Equal(1, 2, 3);
        Entries().Should().Equal("student.onnx");
    }

    [Fact]
    public void Save_OntoAnExistingDirectory_FailsAndLeavesIt_AndNoTemporaryFile()
    {
        // Fails even as root (unlike a read-only folder): the final move cannot replace a directory.
        string path = Path.Combine(_folder, "student.onnx");
        Directory.CreateDirectory(path);
        File.WriteAllBytes(Path.Combine(path, "keep.bin"), [7, 8]);

        Action act = () => OnnxExporter.Save([1, 2, 3], path);

        act.Should().Throw<IOException>();
        File.ReadAllBytes(Path.Combine(path, "keep.bin")).Should().Equal(7, 8);
        Entries().Should().Equal("student.onnx");
    }
}
