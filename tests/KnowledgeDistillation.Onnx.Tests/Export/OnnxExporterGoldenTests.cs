using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Onnx.Export;
using KnowledgeDistillation.Onnx.Export.Layers;
using KnowledgeDistillation.Onnx.Quantization;
using Microsoft.ML.OnnxRuntime;

namespace KnowledgeDistillation.Onnx.Tests.Export;

/// <summary>
/// Golden fingerprints of exported models. They were recorded from the exporter before it was split into lowering,
/// per-mode emitters, serializer and calibrator, and pin the bytes it writes: any change to node order, tensor names,
/// quantization parameters or metadata shows up here. A deliberate format change updates the hashes in the same commit.
/// </summary>
/// <remarks>
/// The hashes must not depend on the machine. Float32 and dynamic int8 exports involve no ONNX Runtime arithmetic;
/// static int8 exports calibrate through ONNX Runtime, so their graphs hold integer weights and inputs small enough that
/// every activation is an exact float32 integer whatever the summation order or kernel.
/// </remarks>
public sealed class OnnxExporterGoldenTests
{
    private static readonly Dictionary<string, Func<byte[]>> Cases = new(StringComparer.Ordinal)
    {
        ["mlp/float32"] = () => OnnxExporter.Export(Mlp()),
        ["mlp/float32+metadata"] = () => OnnxExporter.Export(Mlp(), new OnnxExportOptions
        {
            InputName = "pixels", OutputName = "scores", TeacherId = "cnn:32,64", Temperature = 4, Accuracy = 0.875,
            IntermediateOutputs = ["act1", "bn1", "act1"], Metadata = new Dictionary<string, string> { ["kd.extra"] = "1", ["kd.model"] = "renamed" },
        }),
        ["mlp/int8-dynamic"] = () => OnnxExporter.ExportInt8(Mlp(), null, new Int8QuantizationOptions { Activations = ActivationQuantization.Dynamic, MinimumFanIn = 0 }),
        ["nested/float32"] = () => OnnxExporter.Export(Nested(), new OnnxExportOptions { IntermediateOutputs = ["block1", "empty", "features", "block2.bn", "fc.bn"] }),
        ["nested/int8-dynamic"] = () => OnnxExporter.ExportInt8(Nested(), null, new Int8QuantizationOptions { Activations = ActivationQuantization.Dynamic },
            new OnnxExportOptions { IntermediateOutputs = ["block1", "fc.bn"] }),
        ["nested/int8-dynamic-all"] = () => OnnxExporter.ExportInt8(Nested(), null, new Int8QuantizationOptions { Activations = ActivationQuantization.Dynamic, MinimumFanIn = 0, FloatLayers = ["fc"] }),
        ["cnn/float32"] = () => OnnxExporter.Export(ExactCnn()),
        ["cnn/int8-static-minmax"] = () => OnnxExporter.ExportInt8(ExactCnn(), ExactCnnCalibration()),
        ["cnn/int8-static-percentile"] = () => OnnxExporter.ExportInt8(ExactCnn(), ExactCnnCalibration(),
            new Int8QuantizationOptions { Calibration = ActivationCalibration.Percentile, Percentile = 99 }),
        ["cnn/int8-static-minmax+relu-exposed"] = () => OnnxExporter.ExportInt8(ExactCnn(), ExactCnnCalibration(), null,
            new OnnxExportOptions { IntermediateOutputs = ["block1.relu", "block1", "block2", "fc1"] }),
        ["cnn/int8-static-minmax+pool-exposed"] = () => OnnxExporter.ExportInt8(ExactCnn(), ExactCnnCalibration(), null,
            new OnnxExportOptions { IntermediateOutputs = ["block1.conv", "block1.bn", "block1.pool", "block1"] }),
        ["cnn/int8-static-minmax-all"] = () => OnnxExporter.ExportInt8(ExactCnn(), ExactCnnCalibration(), new Int8QuantizationOptions { MinimumFanIn = 0 }),
        ["cnn/int8-static-percentile-float-conv2"] = () => OnnxExporter.ExportInt8(ExactCnn(), ExactCnnCalibration(),
            new Int8QuantizationOptions { Calibration = ActivationCalibration.Percentile, Percentile = 99.9, FloatLayers = ["block2.conv"] }),
        ["cnn/int8-dynamic"] = () => OnnxExporter.ExportInt8(ExactCnn(), null, new Int8QuantizationOptions { Activations = ActivationQuantization.Dynamic }),
        ["relu-last/int8-static-minmax"] = () => OnnxExporter.ExportInt8(ReluLast(), [ReluLastCalibration()], new Int8QuantizationOptions { MinimumFanIn = 0 },
            new OnnxExportOptions { IntermediateOutputs = ["relu2"] }),
    };

    private static readonly Dictionary<string, string> Golden = new(StringComparer.Ordinal)
    {
        ["mlp/float32"] = "e5e74a981b9aec56670f5da74139edd6bc91502ca3bde268b53444f1e297b32d",
        ["mlp/float32+metadata"] = "dce729b1bb320e2c6882add7243a15d32dfbbacf43fbfe1cc53007e4b4442d36",
        ["mlp/int8-dynamic"] = "b9d32d0fe188d42dd4c9e7f9c01bf94a3767ce1e703a78f1d5bbe4987fb17db1",
        ["nested/float32"] = "d1ddcc87a3c05f7aa3e0ccc2bd94fbb81f6a9c7606f2e56b9ec2fdfe39b06624",
        ["nested/int8-dynamic"] = "463fb4d8e07e5980cc334d18f8c71a475c8ad0ea468212eaea19cdb944fd3a02",
        ["nested/int8-dynamic-all"] = "d6e4f83b6010b0195bf3b79e2ec3f03bd92e64f1f86b250a3e74d47333103b4e",
        ["cnn/float32"] = "4e51d4a7a32824ef0b44f48333230a1576ab0918c54d713f30672708ee9b6358",
        ["cnn/int8-static-minmax"] = "e0fa1b9800d520944a50f13c88e6fde48c3224aae20def180af176fac88e85a0",
        ["cnn/int8-static-percentile"] = "507a29ad293216671ff8a44255afdca69909a045ba39eaef34670f34b20ccb74",
        ["cnn/int8-static-minmax+relu-exposed"] = "44fa68ede39a6344e69e73d03b5a71d10a38548f7bf0d03b487a01b3b2f60d4c",
        ["cnn/int8-static-minmax+pool-exposed"] = "b052c0bf232b493c38c3fd81fbebd07e2c5133f4dc1a741350e47f41ccee35a1",
        ["cnn/int8-static-minmax-all"] = "7a68001239fc12e435723eaaac1e6db732bbc9681ba9aa19c0cbd5d48298c377",
        ["cnn/int8-static-percentile-float-conv2"] = "48db9fe8fd33f6b0efbcfd4457b87cd3810baf333e53be9b7476245036e9fbf3",
        ["cnn/int8-dynamic"] = "fd92a4bcd92287725a0ccd5d4f9b64b6d797553b621abcef9a7d4e999d9dd9e1",
        ["relu-last/int8-static-minmax"] = "0f2c151e4e7142a12cd517963f29ecf76b00ab0c52d75dc14e0e35c484d17aac",
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Export_WritesTheRecordedBytes(string name)
    {
        byte[] model = Cases[name]();
        string actual = ExportedBytes.Fingerprint(model);
        Golden.GetValueOrDefault(name).Should().Be(actual, $"case {name}: [\"{name}\"] = \"{actual}\",");
        // The pinned bytes are a model ONNX Runtime loads.
        using var session = new InferenceSession(model);
    }

    [Fact]
    public void Export_IsDeterministic_ApartFromTheFingerprintedFields()
    {
        ExportedBytes.Fingerprint(OnnxExporter.ExportInt8(ExactCnn(), ExactCnnCalibration()))
            .Should().Be(ExportedBytes.Fingerprint(OnnxExporter.ExportInt8(ExactCnn(), ExactCnnCalibration())));
    }

    private static float[] Random(Random rng, int count, double scale = 1) => Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();

    private static float[] Integers(Random rng, int count, int min, int max) => Enumerable.Range(0, count).Select(_ => (float)rng.Next(min, max + 1)).ToArray();

    /// <summary>Flatten, linear with a folded batch norm, GELU, dropout, linear.</summary>
    private static StudentGraph Mlp()
    {
        var rng = new Random(7);
        float[] w1 = Random(rng, 4 * 6), b1 = Random(rng, 4), w2 = Random(rng, 3 * 4), b2 = Random(rng, 3);
        float[] mean = Random(rng, 4), variance = Random(rng, 4).Select(v => Math.Abs(v) + 0.5f).ToArray(), gamma = Random(rng, 4), beta = Random(rng, 4);
        return new StudentGraph("mlp", [1, 2, 3], 3,
        [
            new FlattenLayer("flatten"),
            new LinearLayer("fc1", w1, b1, 6, 4),
            new BatchNormLayer("bn1", mean, variance, gamma, beta, 1e-5),
            new ActivationLayer("act1", ActivationKind.Gelu),
            new IdentityLayer("dropout", "Dropout"),
            new LinearLayer("logits", w2, b2, 4, 3),
        ]);
    }

    /// <summary>Nested and empty sequences, grouped convolution, batch norms folded and standalone, every pooling and activation, MatMul linear.</summary>
    private static StudentGraph Nested()
    {
        var rng = new Random(11);
        BatchNormLayer Bn(string name, int channels) => new(name, Random(rng, channels), Random(rng, channels).Select(v => Math.Abs(v) + 0.5f).ToArray(), Random(rng, channels), Random(rng, channels), 1e-5);
        return new StudentGraph("nested", [3, 8, 8], 5,
        [
            new SequenceLayer("features",
            [
                new SequenceLayer("block1",
                [
                    new Conv2dLayer("block1.conv", Random(rng, 8 * 3 * 9, 0.5), Random(rng, 8, 0.1), 3, 8, (3, 3), (1, 1), (1, 1), (1, 1), 1),
                    Bn("block1.bn", 8),
                    new ActivationLayer("block1.relu", ActivationKind.Relu),
                    new Pool2dLayer("block1.pool", PoolKind.Max, (2, 2), (2, 2), (0, 0), (1, 1), false, false),
                ]),
                new SequenceLayer("empty", []),
                new SequenceLayer("block2",
                [
                    new Conv2dLayer("block2.conv", Random(rng, 8 * 4 * 9, 0.3), null, 8, 8, (3, 3), (1, 1), (1, 1), (1, 1), 2),
                    new ActivationLayer("block2.act", ActivationKind.LeakyRelu, 0.1f),
                    Bn("block2.bn", 8),
                    new Pool2dLayer("block2.avg", PoolKind.Average, (3, 3), (1, 1), (1, 1), (1, 1), true, true),
                    new AdaptiveAvgPool2dLayer("block2.adapt", 2, 2),
                ]),
            ]),
            new ActivationLayer("silu", ActivationKind.Silu),
            new FlattenLayer("flat2d", 2),
            new LinearLayer("proj", Random(rng, 6 * 4, 0.4), Random(rng, 6, 0.1), 4, 6),
            Bn("bn_proj", 8),
            new ActivationLayer("gelu_tanh", ActivationKind.GeluTanh),
            new FlattenLayer("flatten"),
            new LinearLayer("fc", Random(rng, 16 * 48, 0.2), null, 48, 16),
            Bn("fc.bn", 16),
            new ActivationLayer("tanh", ActivationKind.Tanh),
            new ActivationLayer("sigmoid", ActivationKind.Sigmoid),
            new IdentityLayer("drop", "Dropout"),
            new LinearLayer("logits", Random(rng, 5 * 16, 0.3), Random(rng, 5, 0.1), 16, 5),
        ]);
    }

    /// <summary>
    /// Conv (fan-in 9: float32 by default) + folded batch norm + ReLU + max-pool, conv + ReLU + max-pool, flatten, dropout,
    /// linear + ReLU, linear. Integer weights and inputs, batch norm scales of 1 or 2: every activation is exact.
    /// </summary>
    private static StudentGraph ExactCnn()
    {
        var rng = new Random(5);
        return new StudentGraph("cnn", [1, 8, 8], 3,
        [
            new SequenceLayer("block1",
            [
                new Conv2dLayer("block1.conv", Integers(rng, 4 * 9, -1, 1), Integers(rng, 4, -1, 1), 1, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1),
                new BatchNormLayer("block1.bn", Integers(rng, 4, -2, 2), [0.25f, 0.25f, 0.25f, 0.25f], [0.5f, 1f, 0.5f, 1f], Integers(rng, 4, -2, 2), 0),
                new ActivationLayer("block1.relu", ActivationKind.Relu),
                new Pool2dLayer("block1.pool", PoolKind.Max, (2, 2), (2, 2), (0, 0), (1, 1), false, false),
            ]),
            new SequenceLayer("block2",
            [
                new Conv2dLayer("block2.conv", Integers(rng, 8 * 4 * 9, -1, 1), Integers(rng, 8, -1, 1), 4, 8, (3, 3), (1, 1), (1, 1), (1, 1), 1),
                new ActivationLayer("block2.relu", ActivationKind.Relu),
                new Pool2dLayer("block2.pool", PoolKind.Max, (2, 2), (2, 2), (0, 0), (1, 1), false, false),
            ]),
            new FlattenLayer("flatten"),
            new IdentityLayer("drop", "Dropout"),
            new LinearLayer("fc1", Integers(rng, 8 * 32, -1, 1), Integers(rng, 8, -1, 1), 32, 8),
            new ActivationLayer("relu3", ActivationKind.Relu),
            new LinearLayer("logits", Integers(rng, 3 * 8, -1, 1), Integers(rng, 3, -1, 1), 8, 3),
        ]);
    }

    private static Float32Tensor[] ExactCnnCalibration()
    {
        var rng = new Random(9);
        return [new Float32Tensor(Integers(rng, 32 * 64, 0, 3), 32, 1, 8, 8), new Float32Tensor(Integers(rng, 24 * 64, 0, 3), 24, 1, 8, 8)];
    }

    /// <summary>A quantized linear + ReLU as the last layers (the ReLU stays a node), exact like <see cref="ExactCnn"/>.</summary>
    private static StudentGraph ReluLast()
    {
        var rng = new Random(13);
        return new StudentGraph("relu-last", [16], 4,
        [
            new LinearLayer("fc1", Integers(rng, 8 * 16, -2, 2), Integers(rng, 8, -1, 1), 16, 8),
            new ActivationLayer("relu1", ActivationKind.Relu),
            new LinearLayer("fc2", Integers(rng, 4 * 8, -2, 2), null, 8, 4),
            new ActivationLayer("relu2", ActivationKind.Relu),
        ]);
    }

    private static Float32Tensor ReluLastCalibration()
    {
        var rng = new Random(17);
        return new Float32Tensor(Integers(rng, 40 * 16, -3, 3), 40, 16);
    }
}
