using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Onnx.Export;
using KnowledgeDistillation.Onnx.Export.Layers;
using KnowledgeDistillation.Onnx.Quantization;
using KnowledgeDistillation.Onnx.Teachers;

namespace KnowledgeDistillation.Onnx.Tests.Export;

public sealed class OnnxExporterTests
{
    private static float[] Random(Random rng, int count, double scale = 1) => Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();

    private static (StudentGraph Graph, Func<float[], double[]> Reference) SmallMlp()
    {
        var rng = new Random(7);
        float[] w1 = Random(rng, 4 * 6), b1 = Random(rng, 4), w2 = Random(rng, 3 * 4), b2 = Random(rng, 3);
        float[] mean = Random(rng, 4), variance = Random(rng, 4).Select(v => Math.Abs(v) + 0.5f).ToArray(), gamma = Random(rng, 4), beta = Random(rng, 4);
        var graph = new StudentGraph("mlp", [1, 2, 3], 3,
        [
            new FlattenLayer("flatten"),
            new LinearLayer("fc1", w1, b1, 6, 4),
            new BatchNormLayer("bn1", mean, variance, gamma, beta, 1e-5),
            new ActivationLayer("act1", ActivationKind.Gelu),
            new IdentityLayer("dropout", "Dropout"),
            new LinearLayer("logits", w2, b2, 4, 3),
        ]);
        double[] Reference(float[] x)
        {
            double[] h = new double[4];
            for (int o = 0; o < 4; o++)
            {
                double s = b1[o];
                for (int i = 0; i < 6; i++)
                {
                    s += w1[o * 6 + i] * x[i];
                }
                s = (s - mean[o]) / Math.Sqrt(variance[o] + 1e-5) * gamma[o] + beta[o];
                h[o] = 0.5 * s * (1 + Erf(s / Math.Sqrt(2)));
            }
            return Enumerable.Range(0, 3).Select(o => b2[o] + Enumerable.Range(0, 4).Sum(i => w2[o * 4 + i] * h[i])).ToArray();
        }
        return (graph, Reference);
    }

    // Abramowitz–Stegun 7.1.26 is too coarse; use a series good to 1e-12 on the small range used here.
    private static double Erf(double x)
    {
        double sum = x, term = x;
        for (int n = 1; n < 60; n++)
        {
            term *= -x * x / n;
            sum += term / (2 * n + 1);
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    [Fact]
    public void Export_Float32_MatchesAReferenceComputation_WithBatchNormFolded_AndDynamicBatch()
    {
        (StudentGraph graph, Func<float[], double[]> reference) = SmallMlp();
        byte[] model = OnnxExporter.Export(graph);
        using OnnxTeacher teacher = OnnxTeacher.FromBytes(model, "mlp.onnx");

        teacher.InputDimensions.Should().Equal(-1, 1, 2, 3);
        var rng = new Random(1);
        foreach (int rows in new[] { 1, 7 })
        {
            float[] x = Random(rng, rows * 6);
            float[] logits = teacher.Infer(new Float32Tensor(x, rows, 1, 2, 3)).Logits.Data.ToArray();
            for (int r = 0; r < rows; r++)
            {
                double[] expected = reference(x[(r * 6)..((r + 1) * 6)]);
                for (int c = 0; c < 3; c++)
                {
                    logits[r * 3 + c].Should().BeApproximately((float)expected[c], 1e-5f);
                }
            }
        }
    }

    [Fact]
    public void Export_WritesMetadata_AndExposesRequestedIntermediates()
    {
        (StudentGraph graph, _) = SmallMlp();
        byte[] model = OnnxExporter.Export(graph, new OnnxExportOptions
        {
            TeacherId = "cnn:32,64", Temperature = 4, Accuracy = 0.875, IntermediateOutputs = ["act1"],
        });
        using OnnxTeacher teacher = OnnxTeacher.FromBytes(model, "mlp.onnx");

        teacher.Session.ModelMetadata.ProducerName.Should().Be(OnnxExporter.Producer);
        teacher.CustomMetadata.Should().Contain("kd.teacher", "cnn:32,64").And.Contain("kd.temperature", "4").And.Contain("kd.accuracy", "0.875")
            .And.Contain("kd.quantization", "none").And.Contain("kd.model", "mlp");
        teacher.Metadata.ParameterCount.Should().Be(graph.ParameterCount);
        teacher.Metadata.IntermediateNames.Should().Equal("act1");
        ModelOutput output = teacher.Infer(new Float32Tensor(new float[12], 2, 1, 2, 3), ["act1"]);
        output.Intermediates["act1"].Shape.Should().Equal(2, 4);
    }

    [Fact]
    public void Export_LayersThatDoNotFit_AreReportedBeforeWriting()
    {
        var graph = new StudentGraph("bad", [1, 2, 3], 3, [new FlattenLayer("flatten"), new LinearLayer("fc", new float[15], null, 5, 3)]);
        Action act = () => OnnxExporter.Export(graph);
        act.Should().Throw<ArgumentException>().WithMessage("*Linear layer 'fc' takes 5 features but receives samples of shape [6]*");

        var wrongClasses = new StudentGraph("bad", [1, 2, 3], 10, [new FlattenLayer("flatten"), new LinearLayer("fc", new float[18], null, 6, 3)]);
        Action classes = () => OnnxExporter.Export(wrongClasses);
        classes.Should().Throw<ArgumentException>().WithMessage("*ends with samples of shape [3], not [10] logits*");

        (StudentGraph ok, _) = SmallMlp();
        Action unknown = () => OnnxExporter.Export(ok, new OnnxExportOptions { IntermediateOutputs = ["fc9"] });
        unknown.Should().Throw<ArgumentException>().WithMessage("*no layer 'fc9'*Layers: flatten, fc1, bn1*");
    }

    [Fact]
    public void ExportInt8_StoresWeightsAsInt8_AndStaysCloseToFloat()
    {
        var rng = new Random(3);
        var graph = new StudentGraph("wide", [64], 8,
        [
            new LinearLayer("fc1", Random(rng, 512 * 64, 0.2), Random(rng, 512, 0.1), 64, 512),
            new ActivationLayer("relu1", ActivationKind.Relu),
            new LinearLayer("logits", Random(rng, 8 * 512, 0.2), Random(rng, 8, 0.1), 512, 8),
        ]);
        float[] data = Random(rng, 256 * 64);
        Float32Tensor[] calibration = [new Float32Tensor(data, 256, 64)];
        byte[] fp32 = OnnxExporter.Export(graph);
        foreach (var options in new[]
        {
            new Int8QuantizationOptions(),
            new Int8QuantizationOptions { Calibration = ActivationCalibration.Percentile, Percentile = 99.9 },
            new Int8QuantizationOptions { Activations = ActivationQuantization.Dynamic },
        })
        {
            byte[] int8 = OnnxExporter.ExportInt8(graph, calibration, options);
            // Per output channel an int8 export adds a weight scale and zero point and an int32 bias with its scale (13 bytes):
            // with a fan-in of 64 that is (64 + 13) / (256 + 4) ≈ 0.30 of float32; wider layers come closer to 0.25.
            ((double)int8.Length / fp32.Length).Should().BeLessThan(0.31, $"{options.Activations}/{options.Calibration}");
            using OnnxTeacher a = OnnxTeacher.FromBytes(fp32, "fp32");
            using OnnxTeacher b = OnnxTeacher.FromBytes(int8, "int8");
            float[] x = data[..(16 * 64)];
            float[] ya = a.Infer(new Float32Tensor(x, 16, 64)).Logits.Data.ToArray();
            float[] yb = b.Infer(new Float32Tensor(x, 16, 64)).Logits.Data.ToArray();
            double scale = ya.Max(Math.Abs);
            ya.Zip(yb).Max(p => Math.Abs(p.First - p.Second)).Should().BeLessThan((float)(0.05 * scale), $"{options.Activations}/{options.Calibration}");
            b.CustomMetadata["kd.quantization"].Should().StartWith("int8-");
        }
    }

    [Fact]
    public void ExportInt8_Static_WithoutCalibrationData_IsAnError()
    {
        (StudentGraph graph, _) = SmallMlp();
        Action none = () => OnnxExporter.ExportInt8(graph, null);
        none.Should().Throw<ArgumentNullException>();
        Action empty = () => OnnxExporter.ExportInt8(graph, []);
        empty.Should().Throw<ArgumentException>().WithMessage("*needs calibration data*");
        Action wrongShape = () => OnnxExporter.ExportInt8(graph, [new Float32Tensor(new float[10], 2, 5)]);
        wrongShape.Should().Throw<ArgumentException>().WithMessage("*calibration batch of shape [2, 5] does not hold samples of shape [1, 2, 3]*");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExportInt8_ConvStudent_WithAFloatFirstConv_StaysCloseToFloat_AndKeepsRequestedIntermediates(bool exposeRelu)
    {
        var rng = new Random(5);
        var graph = new StudentGraph("cnn", [1, 8, 8], 4,
        [
            new Conv2dLayer("conv1", Random(rng, 8 * 9, 0.5), Random(rng, 8, 0.1), 1, 8, (3, 3), (1, 1), (1, 1), (1, 1), 1),
            new ActivationLayer("relu1", ActivationKind.Relu),
            new Pool2dLayer("pool1", PoolKind.Max, (2, 2), (2, 2), (0, 0), (1, 1), false, false),
            new Conv2dLayer("conv2", Random(rng, 16 * 8 * 9, 0.2), Random(rng, 16, 0.1), 8, 16, (3, 3), (1, 1), (1, 1), (1, 1), 1),
            new ActivationLayer("relu2", ActivationKind.Relu),
            new Pool2dLayer("pool2", PoolKind.Max, (2, 2), (2, 2), (0, 0), (1, 1), false, false),
            new FlattenLayer("flatten"),
            new LinearLayer("logits", Random(rng, 4 * 64, 0.2), Random(rng, 4, 0.1), 64, 4),
        ]);
        float[] data = Enumerable.Range(0, 128 * 64).Select(_ => (float)rng.NextDouble()).ToArray();
        var options = new OnnxExportOptions { IntermediateOutputs = exposeRelu ? ["relu1"] : [] };
        using OnnxTeacher fp32 = OnnxTeacher.FromBytes(OnnxExporter.Export(graph, options), "fp32");
        using OnnxTeacher int8 = OnnxTeacher.FromBytes(OnnxExporter.ExportInt8(graph, [new Float32Tensor(data, 128, 1, 8, 8)], null, options), "int8");
        var x = new Float32Tensor(data[..(32 * 64)], 32, 1, 8, 8);
        float[] a = fp32.Infer(x).Logits.Data.ToArray(), b = int8.Infer(x).Logits.Data.ToArray();
        a.Zip(b).Max(p => Math.Abs(p.First - p.Second)).Should().BeLessThan(0.05f * a.Max(Math.Abs));
        if (exposeRelu)
        {
            float[] relu = int8.Infer(x, ["relu1"]).Intermediates["relu1"].Data.ToArray();
            relu.Length.Should().Be(32 * 8 * 8 * 8);
            relu.Should().OnlyContain(v => v >= 0);
        }
    }
}
