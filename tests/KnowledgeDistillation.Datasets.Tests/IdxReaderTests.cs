using System.Buffers.Binary;
using System.IO.Compression;
using KnowledgeDistillation.Data;

namespace KnowledgeDistillation.Datasets.Tests;

public sealed class IdxReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-idx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Idx(byte type, int[] shape, byte[] data)
    {
        var bytes = new byte[4 + (4 * shape.Length) + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)shape.Length;
        for (int i = 0; i < shape.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + (4 * i)), shape[i]);
        }
        data.CopyTo(bytes, 4 + (4 * shape.Length));
        return bytes;
    }

    private string Write(string name, byte[] bytes, bool gzip = false)
    {
        string path = Path.Combine(_dir, name);
        if (gzip)
        {
            using var file = File.Create(path);
            using var zip = new GZipStream(file, CompressionLevel.Fastest);
            zip.Write(bytes);
        }
        else
        {
            File.WriteAllBytes(path, bytes);
        }
        return path;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Read_PlainOrGzip_ReturnsShapeAndData(bool gzip)
    {
        byte[] pixels = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)i).ToArray();
        string path = Write("images", Idx(0x08, [2, 3, 4], pixels), gzip);

        IdxArray array = IdxReader.ReadImages(path);

        array.Shape.Should().Equal(2, 3, 4);
        array.Data.Should().Equal(pixels);
    }

    [Fact]
    public void Read_WrongMagic_ThrowsNamingTheFile()
    {
        byte[] bytes = Idx(0x08, [3], [1, 2, 3]);
        bytes[0] = 0x50;
        string path = Write("bad-magic", bytes);

        Action act = () => IdxReader.ReadLabels(path);

        act.Should().Throw<InvalidDataException>().WithMessage($"*'{path}'*magic number*");
    }

    [Fact]
    public void Read_WrongElementType_Throws()
    {
        string path = Write("floats", Idx(0x0D, [1], [0, 0, 0, 0]));
        Action act = () => IdxReader.ReadLabels(path);
        act.Should().Throw<InvalidDataException>().WithMessage("*element type 0x0D*");
    }

    [Fact]
    public void Read_WrongRank_SaysWhatWasExpected()
    {
        string path = Write("labels-as-images", Idx(0x08, [3], [1, 2, 3]));
        Action act = () => IdxReader.ReadImages(path);
        act.Should().Throw<InvalidDataException>().WithMessage("*1 dimensions where 3 were expected*");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Read_TruncatedData_ThrowsWithCounts(bool gzip)
    {
        byte[] full = Idx(0x08, [10], Enumerable.Repeat((byte)1, 10).ToArray());
        string path = Write("truncated", full[..^3], gzip);

        Action act = () => IdxReader.ReadLabels(path);

        act.Should().Throw<InvalidDataException>().WithMessage($"*'{path}' is truncated*10 elements*only 7 bytes*");
    }

    [Fact]
    public void Read_TruncatedHeader_Throws()
    {
        string path = Write("header", [0, 0, 8, 3, 0, 0]);
        Action act = () => IdxReader.ReadImages(path);
        act.Should().Throw<InvalidDataException>().WithMessage("*truncated*header*");
    }

    [Fact]
    public void Read_CorruptGzip_ThrowsNamingTheFile()
    {
        byte[] zipped;
        using (var ms = new MemoryStream())
        {
            using (var zip = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            {
                zip.Write(Idx(0x08, [1000], new byte[1000]));
            }
            zipped = ms.ToArray();
        }
        for (int i = 12; i < zipped.Length - 8; i++)
        {
            zipped[i] ^= 0x5A;
        }
        string path = Write("corrupt.gz", zipped);

        Action act = () => IdxReader.ReadLabels(path);

        act.Should().Throw<InvalidDataException>().WithMessage($"*'{path}'*");
    }

    [Fact]
    public void Read_MissingFile_ThrowsFileNotFound()
    {
        Action act = () => IdxReader.ReadLabels(Path.Combine(_dir, "nope"));
        act.Should().Throw<FileNotFoundException>();
    }

    [Fact]
    public void FashionMnistLoad_CountMismatch_ThrowsNamingBothFiles()
    {
        string images = Write("img", Idx(0x08, [3, 2, 2], new byte[12]));
        string labels = Write("lbl", Idx(0x08, [2], [0, 1]));

        Action act = () => FashionMnist.Load(images, labels, classCount: 10);

        act.Should().Throw<InvalidDataException>().WithMessage($"*'{images}' holds 3 images but '{labels}' holds 2 labels*");
    }

    [Fact]
    public void FashionMnistLoad_LabelOutOfRange_Throws()
    {
        string images = Write("img", Idx(0x08, [2, 1, 1], [0, 255]));
        string labels = Write("lbl", Idx(0x08, [2], [0, 10]));

        Action act = () => FashionMnist.Load(images, labels, classCount: 10);

        act.Should().Throw<InvalidDataException>().WithMessage("*label 10 at index 1*");
    }

    [Fact]
    public void FashionMnistLoad_ScalesPixelsToUnitInterval()
    {
        string images = Write("img", Idx(0x08, [1, 1, 3], [0, 51, 255]));
        string labels = Write("lbl", Idx(0x08, [1], [7]));

        LabeledImageSet set = FashionMnist.Load(images, labels, classCount: 10);

        set.Pixels.Should().Equal(0f, 0.2f, 1f);
        set.Labels.Should().Equal(7);
        set.Height.Should().Be(1);
        set.Width.Should().Be(3);
    }

    [Fact]
    public void FashionMnist_MissingFolder_SaysHowToInstall()
    {
        Action act = () => FashionMnist.Load(DataSplit.Test, Path.Combine(_dir, "missing"));
        act.Should().Throw<FileNotFoundException>().WithMessage("*apt-get install dataset-fashion-mnist*");
    }
}
