using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Onnx.Teachers;
using KnowledgeDistillation.Onnx.Tests.Runtime;

namespace KnowledgeDistillation.Onnx.Tests.Teachers;

public sealed class OnnxTeacherTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "kd-onnx-teacher-" + Guid.NewGuid().ToString("N"));

    public OnnxTeacherTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public async Task InferAsync_RunsBatchesOfAnySize_AndReportsTheModel()
    {
        using OnnxTeacher teacher = OnnxTeacher.Load(Write("add.onnx", TinyOnnxModel.AddSelf()));

        teacher.Metadata.ClassCount.Should().Be(3);
        teacher.Metadata.Name.Should().Be("add.onnx");
        teacher.InputName.Should().Be("x");
        teacher.LogitsName.Should().Be("y");
        foreach (int rows in new[] { 1, 5 })
        {
            float[] data = Enumerable.Range(0, rows * 3).Select(i => (float)i).ToArray();
            ModelOutput output = await teacher.InferAsync(new Float32Tensor(data, rows, 3));
            output.Logits.Shape.Should().Equal(rows, 3);
            output.Logits.Data.ToArray().Should().Equal(data.Select(v => v * 2));
        }
    }

    [Fact]
    public void Infer_IsThreadSafe_OnOneSession()
    {
        using OnnxTeacher teacher = OnnxTeacher.FromBytes(TinyOnnxModel.AddSelf(), "add");
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            float[] data = Enumerable.Range(0, 3 * (1 + (i % 7))).Select(v => (float)(v + i)).ToArray();
            float[] result = teacher.Infer(new Float32Tensor(data, data.Length / 3, 3)).Logits.Data.ToArray();
            if (!result.SequenceEqual(data.Select(v => v * 2)))
            {
                failures.Add($"call {i}");
            }
        });
        failures.Should().BeEmpty();
    }

    [Fact]
    public void Infer_WrongSampleShape_NamesTheExpectedShape()
    {
        using OnnxTeacher teacher = OnnxTeacher.FromBytes(TinyOnnxModel.AddSelf(), "add");
        Action act = () => teacher.Infer(new Float32Tensor(new float[8], 2, 4));
        act.Should().Throw<ArgumentException>().WithMessage("*expects input 'x' of shape [?, 3]*[2, 4]*");
    }

    [Fact]
    public void Infer_WrongSizeForAModelWithUnspecifiedInputDimensions_IsAnArgumentExceptionNamingTheShapes()
    {
        // The declared input [N, C, H, W] accepts any sample when loaded; the graph needs 1024 values per sample (32 × 32).
        using OnnxTeacher teacher = OnnxTeacher.FromBytes(TinyOnnxModel.FlattenMatMul(1024, 10), "symbolic", new OnnxTeacherOptions { ExpectedClassCount = 10, ExpectedInputShape = [1, 28, 28] });
        teacher.Infer(new Float32Tensor(new float[2 * 1024], 2, 1, 32, 32)).Logits.ShapeText.Should().Be("[2, 10]");

        Action act = () => teacher.Infer(new Float32Tensor(new float[2 * 784], 2, 1, 28, 28));

        act.Should().Throw<ArgumentException>().WithMessage("*'symbolic'*[2, 1, 28, 28]*[?, ?, ?, ?]*");
    }

    [Fact]
    public void Infer_UnknownIntermediate_ListsTheAvailableOnes()
    {
        using OnnxTeacher teacher = OnnxTeacher.FromBytes(TinyOnnxModel.AddSelf(), "add");
        Action act = () => teacher.Infer(new Float32Tensor(new float[3], 1, 3), ["features"]);
        act.Should().Throw<ArgumentException>().WithMessage("*no intermediate output 'features'*Available: none*");
    }

    [Fact]
    public void Load_MissingFile_IsAnArgumentExceptionNamingIt()
    {
        string path = Path.Combine(_folder, "missing.onnx");
        Action act = () => OnnxTeacher.Load(path);
        act.Should().Throw<ArgumentException>().WithMessage($"*'{path}' does not exist*");
    }

    [Fact]
    public void Load_EmptyFile_IsInvalidData()
    {
        string path = Write("empty.onnx", []);
        Action act = () => OnnxTeacher.Load(path);
        act.Should().Throw<InvalidDataException>().WithMessage($"*'{path}' is empty*");
    }

    [Fact]
    public void Load_TruncatedFile_IsInvalidDataNamingIt()
    {
        byte[] model = TinyOnnxModel.AddSelf();
        foreach (int length in new[] { 1, 5, model.Length / 2, model.Length - 1 })
        {
            string path = Write($"truncated{length}.onnx", model[..length]);
            Action act = () => OnnxTeacher.Load(path);
            act.Should().Throw<InvalidDataException>().WithMessage($"*'{path}'*");
        }
    }

    [Fact]
    public void Load_NonOnnxFiles_AreInvalidData()
    {
        byte[][] files =
        [
            "hello, this is a text file\n"u8.ToArray(),
            [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13],
            "KDCKPT01 not a model"u8.ToArray(),
            [0x08, 0x08, 0x12, 0x02, 0x61, 0x62], // well-formed protobuf, but no graph
        ];
        for (int i = 0; i < files.Length; i++)
        {
            string path = Write($"foreign{i}.onnx", files[i]);
            Action act = () => OnnxTeacher.Load(path);
            act.Should().Throw<InvalidDataException>().WithMessage($"*'{path}'*");
        }
    }

    [Fact]
    public void Load_OutputNotBatchByClasses_IsAnArgumentExceptionListingOutputs()
    {
        string path = Write("rank3.onnx", TinyOnnxModel.Identity(1, -1, 2, 3));
        Action act = () => OnnxTeacher.Load(path);
        act.Should().Throw<ArgumentException>().WithMessage("*output 'y' has shape [?, 2, 3]*must be [batch, classes]*Outputs: 'y' Float [?, 2, 3]*");
    }

    [Fact]
    public void Load_IntegerInput_IsAnArgumentException()
    {
        string path = Write("int.onnx", TinyOnnxModel.Identity(7, -1, 4));
        Action act = () => OnnxTeacher.Load(path);
        act.Should().Throw<ArgumentException>().WithMessage("*input 'x' is Int64 [?, 4]*needs a float tensor*");
    }

    [Fact]
    public void Load_ExpectationsThatDoNotMatch_AreArgumentExceptions()
    {
        byte[] model = TinyOnnxModel.AddSelf();
        Action classes = () => OnnxTeacher.FromBytes(model, "add", new OnnxTeacherOptions { ExpectedClassCount = 10 });
        classes.Should().Throw<ArgumentException>().WithMessage("*has 3 classes, but the student predicts 10*");
        Action shape = () => OnnxTeacher.FromBytes(model, "add", new OnnxTeacherOptions { ExpectedInputShape = [1, 28, 28] });
        shape.Should().Throw<ArgumentException>().WithMessage("*input 'x' has shape [?, 3], but the student's samples are [1, 28, 28]*");
        Action input = () => OnnxTeacher.FromBytes(model, "add", new OnnxTeacherOptions { InputName = "pixels" });
        input.Should().Throw<ArgumentException>().WithMessage("*no input 'pixels'. Inputs: 'x' Float [?, 3]*");
        Action output = () => OnnxTeacher.FromBytes(model, "add", new OnnxTeacherOptions { LogitsOutputName = "scores" });
        output.Should().Throw<ArgumentException>().WithMessage("*no output 'scores'. Outputs: 'y' Float [?, 3]*");
    }

    [Fact]
    public void FixedBatchModel_RejectsOtherBatchSizes()
    {
        using OnnxTeacher teacher = OnnxTeacher.FromBytes(TinyOnnxModel.Identity(1, 2, 4), "fixed");
        teacher.Infer(new Float32Tensor(new float[8], 2, 4)).Logits.Shape.Should().Equal(2, 4);
        Action act = () => teacher.Infer(new Float32Tensor(new float[4], 1, 4));
        act.Should().Throw<ArgumentException>().WithMessage("*fixed batch size of 2*");
    }

    [Fact]
    public void GetService_ReturnsTheSession()
    {
        using OnnxTeacher teacher = OnnxTeacher.FromBytes(TinyOnnxModel.AddSelf(), "add");
        teacher.GetService(typeof(Microsoft.ML.OnnxRuntime.InferenceSession)).Should().BeSameAs(teacher.Session);
        teacher.GetService(typeof(ITeacher)).Should().BeSameAs(teacher);
    }

    [Fact]
    public async Task InferAsync_CancelledToken_Throws_AndDisposedTeacherIsRejected()
    {
        OnnxTeacher teacher = OnnxTeacher.FromBytes(TinyOnnxModel.AddSelf(), "add");
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        Func<Task> cancelled = async () => await teacher.InferAsync(new Float32Tensor(new float[3], 1, 3), cancellationToken: cts.Token);
        await cancelled.Should().ThrowAsync<OperationCanceledException>();
        teacher.Dispose();
        Action disposed = () => teacher.Infer(new Float32Tensor(new float[3], 1, 3));
        disposed.Should().Throw<ObjectDisposedException>();
    }
}
