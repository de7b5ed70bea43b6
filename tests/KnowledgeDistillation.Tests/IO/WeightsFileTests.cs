using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.IO;

namespace KnowledgeDistillation.Tests.IO;

public sealed class WeightsFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-weights-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void SavedWeights_LoadBack_AndEveryDamage_IsRefusedWithoutTouchingTheModel()
    {
        string path = Path.Combine(_dir, "m.weights");
        var model = new BytesStudent([1, 2, 3, 4, 5, 6, 7, 8]);
        long size = WeightsFile.Save(model, path);
        size.Should().Be(new FileInfo(path).Length);
        var other = new BytesStudent([0]);
        WeightsFile.Load(other, path);
        other.Bytes.Should().Equal(1, 2, 3, 4, 5, 6, 7, 8);

        byte[] good = File.ReadAllBytes(path);
        foreach ((string name, byte[] bytes, string message) in new[]
        {
            ("flipped", Flip(good, good.Length - 2), "*damaged (SHA-256 mismatch)*"),
            ("truncated", good[..^3], "*truncated*"),
            ("plain", good[52..], "*not a KnowledgeDistillation weights file*"),
        })
        {
            string damaged = Path.Combine(_dir, name + ".weights");
            File.WriteAllBytes(damaged, bytes);
            var target = new BytesStudent([42]);
            Action load = () => WeightsFile.Load(target, damaged);
            load.Should().Throw<InvalidDataException>().WithMessage(message);
            target.Bytes.Should().Equal([42], $"a {name} file changes nothing");
        }
        Action missing = () => WeightsFile.Load(model, Path.Combine(_dir, "none.weights"));
        missing.Should().Throw<FileNotFoundException>();
    }

    [Fact]
    public void AFailedWrite_LeavesThePreviousFile_AndNoTemporaryFile()
    {
        string path = Path.Combine(_dir, "keep.weights");
        WeightsFile.Save(new BytesStudent([1, 2, 3]), path);
        byte[] before = File.ReadAllBytes(path);

        Action failing = () => AtomicFile.Write(path, stream =>
        {
            stream.Write([9, 9, 9]);
            throw new IOException("disk full (simulated)");
        });
        failing.Should().Throw<IOException>().WithMessage("disk full*");
        File.ReadAllBytes(path).Should().Equal(before);
        Directory.GetFiles(_dir, "*.tmp").Should().BeEmpty();

        string folder = Directory.CreateDirectory(Path.Combine(_dir, "folder")).FullName;
        Action onAFolder = () => AtomicFile.WriteAllText(folder, "x");
        onAFolder.Should().Throw<IOException>().WithMessage("*is a folder*");
    }

    [Fact]
    public void TemporaryNames_AreUniquePerWrite()
    {
        string path = Path.Combine(_dir, "a.json");
        AtomicFile.TemporaryName(path).Should().NotBe(AtomicFile.TemporaryName(path));
        Path.GetFileName(AtomicFile.TemporaryName(path)).Should().StartWith(".a.json.").And.EndWith(".tmp");
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        byte[] copy = (byte[])bytes.Clone();
        copy[at] ^= 0x10;
        return copy;
    }

    /// <summary>A student whose weights are a byte string (the file format does not care what the payload is).</summary>
    private sealed class BytesStudent(byte[] bytes) : IStudent
    {
        public byte[] Bytes { get; private set; } = bytes;

        public ModelMetadata Metadata => new("bytes", 1, Bytes.Length, []);

        public void SaveWeights(Stream destination) => destination.Write(Bytes);

        public void LoadWeights(Stream source)
        {
            using var copy = new MemoryStream();
            source.CopyTo(copy);
            Bytes = copy.ToArray();
        }

        public ValueTask<ModelOutput> InferAsync(Float32Tensor inputs, IReadOnlyCollection<string>? intermediates = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
