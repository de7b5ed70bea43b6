using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Onnx.Export;
using KnowledgeDistillation.Onnx.Teachers;
using KnowledgeDistillation.TorchSharp.Models;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace KnowledgeDistillation.Onnx.TorchSharp.Tests;

public sealed class ExportParityTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("cnn:8,16:bn,hidden=32,dropout=0.25")]
    [InlineData("cnn:8,16")]
    [InlineData("mlp:64,32:dropout=0.2")]
    public void Float32Export_MatchesTorchSharp_OnRealTestImages(string spec)
    {
        TorchModel student = TestModels.Trained(spec, images: 1000, epochs: 1);
        LabeledImageSet test = TestModels.Test(300);
        Float32Tensor inputs = TestModels.AsBatch(test);

        byte[] model = student.ExportToOnnx();
        using OnnxTeacher onnx = OnnxTeacher.FromBytes(model, spec, new OnnxTeacherOptions { ExpectedInputShape = [1, 28, 28], ExpectedClassCount = 10 });
        Float32Tensor expected = student.Predict(inputs).Logits;
        Float32Tensor actual = onnx.Infer(inputs).Logits;

        float maxDiff = TestModels.MaxAbsDifference(expected, actual);
        output.WriteLine($"{spec}: max |ONNX − TorchSharp| on 300 test images = {maxDiff:E2}; accuracy {TestModels.Accuracy(actual, test):P1}");
        maxDiff.Should().BeLessThanOrEqualTo(1e-4f);
        TestModels.Accuracy(actual, test).Should().Be(TestModels.Accuracy(expected, test));
    }

    [Fact]
    public void Float32Export_CoversTheOtherLayers()
    {
        torch.manual_seed(3);
        var module = nn.Sequential(
            ("conv1", nn.Conv2d(1, 6, 5, stride: 2, padding: 2)),
            ("bn1", nn.BatchNorm2d(6)),
            ("gelu", nn.GELU()),
            ("avg", nn.AvgPool2d(2)),
            ("conv2", nn.Conv2d(6, 8, 3, padding: 1, bias: false)),
            ("tanh", nn.Tanh()),
            ("bn_alone", nn.BatchNorm2d(8)),
            ("silu", nn.SiLU()),
            ("maxpool", nn.MaxPool2d(3, stride: 1, padding: 1)),
            ("gap", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(8, 16)),
            ("sigmoid", nn.Sigmoid()),
            ("leaky", nn.LeakyReLU(0.1)),
            ("drop", nn.Dropout(0.5)),
            ("logits", nn.Linear(16, 10)));
        // Give the batch norms non-trivial statistics.
        module.train();
        using (var scope = NewDisposeScope())
        using (var noGrad = no_grad())
        {
            for (int i = 0; i < 3; i++)
            {
                module.call(tensor(TestModels.Train(64).Pixels, [64, 1, 28, 28]));
            }
        }
        module.eval();
        using var student = new TorchModel(module, [1, 28, 28], 10, name: "mixed");
        Float32Tensor inputs = TestModels.AsBatch(TestModels.Test(100));

        using OnnxTeacher onnx = OnnxTeacher.FromBytes(student.ExportToOnnx(), "mixed.onnx");
        float maxDiff = TestModels.MaxAbsDifference(student.Predict(inputs).Logits, onnx.Infer(inputs).Logits);
        output.WriteLine($"mixed layers: max diff {maxDiff:E2}");
        maxDiff.Should().BeLessThanOrEqualTo(1e-4f);
    }

    [Fact]
    public void UnsupportedLayer_IsANotSupportedException_NamingTheLayerAndType()
    {
        var module = nn.Sequential(("flatten", nn.Flatten()), ("fc", nn.Linear(784, 10)), ("elu", nn.ELU()));
        using var student = new TorchModel(module, [1, 28, 28], 10, name: "elu");
        Action act = () => student.ExportToOnnx();
        act.Should().Throw<NotSupportedException>().WithMessage("*Layer 'elu' of type TorchSharp.Modules.ELU cannot be exported*TorchOnnxConverter.Register*");
    }

    [Fact]
    public void RegisteredConverter_ExportsANewLayerType()
    {
        TorchOnnxConverter.Register<global::TorchSharp.Modules.Softmax>((m, name) => new SoftmaxLayer(name));
        var module = nn.Sequential(("flatten", nn.Flatten()), ("fc", nn.Linear(784, 10)), ("soft", nn.Softmax(1)));
        using var student = new TorchModel(module, [1, 28, 28], 10, name: "soft");
        Float32Tensor inputs = TestModels.AsBatch(TestModels.Test(20));
        using OnnxTeacher onnx = OnnxTeacher.FromBytes(student.ExportToOnnx(), "soft.onnx");
        TestModels.MaxAbsDifference(student.Predict(inputs).Logits, onnx.Infer(inputs).Logits).Should().BeLessThan(1e-5f);
    }

    [Fact]
    public async Task RoundTrip_ExportedStudentIsATeacher_WithTheSameLogitsAndIntermediates()
    {
        TorchModel student = TestModels.Trained("cnn:8,16:bn,hidden=32", images: 1000, epochs: 1);
        string path = Path.Combine(Path.GetTempPath(), $"kd-roundtrip-{Guid.NewGuid():N}.onnx");
        try
        {
            student.ExportToOnnx(path, new OnnxExportOptions { TeacherId = "cnn:32,64", Temperature = 4, Accuracy = 0.9, IntermediateOutputs = ["block1", "fc"] });
            using ITeacher teacher = OnnxTeacher.Load(path);
            teacher.Metadata.IntermediateNames.Should().BeEquivalentTo(["block1", "fc"]);
            Float32Tensor inputs = TestModels.AsBatch(TestModels.Test(64));

            ModelOutput fromOnnx = await teacher.InferAsync(inputs, ["block1"]);
            ModelOutput fromTorch = student.Predict(inputs, ["block1"]);
            TestModels.MaxAbsDifference(fromTorch.Logits, fromOnnx.Logits).Should().BeLessThanOrEqualTo(1e-4f);
            TestModels.MaxAbsDifference(fromTorch.Intermediates["block1"], fromOnnx.Intermediates["block1"]).Should().BeLessThanOrEqualTo(1e-4f);
            ((OnnxTeacher)teacher).CustomMetadata["kd.temperature"].Should().Be("4");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
