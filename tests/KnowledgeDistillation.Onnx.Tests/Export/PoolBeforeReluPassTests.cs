using System.Text;
using KnowledgeDistillation.Abstractions;
using KnowledgeDistillation.Onnx.Export;
using KnowledgeDistillation.Onnx.Export.Emitters;
using KnowledgeDistillation.Onnx.Export.Layers;
using KnowledgeDistillation.Onnx.Export.Lowering;
using KnowledgeDistillation.Onnx.Protobuf;
using KnowledgeDistillation.Onnx.Quantization;
using Microsoft.ML.OnnxRuntime;

namespace KnowledgeDistillation.Onnx.Tests.Export;

public sealed class PoolBeforeReluPassTests
{
    private static readonly Int8QuantizationOptions Quantization = new();

    private static float[] Random(Random rng, int count, double scale = 1) => Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();

    /// <summary>A first conv with fan-in 9 (float32 under the default <see cref="Int8QuantizationOptions.MinimumFanIn"/>), then a quantized one, each followed by ReLU and max-pool.</summary>
    private static StudentGraph Cnn()
    {
        var rng = new Random(21);
        return new StudentGraph("cnn", [1, 8, 8], 4,
        [
            new SequenceLayer("block1",
            [
                new Conv2dLayer("block1.conv", Random(rng, 8 * 9, 0.5), Random(rng, 8, 0.1), 1, 8, (3, 3), (1, 1), (1, 1), (1, 1), 1),
                new BatchNormLayer("block1.bn", Random(rng, 8, 0.1), Random(rng, 8).Select(v => Math.Abs(v) + 0.5f).ToArray(), Random(rng, 8), Random(rng, 8, 0.1), 1e-5),
                new ActivationLayer("block1.relu", ActivationKind.Relu),
                new Pool2dLayer("block1.pool", PoolKind.Max, (2, 2), (2, 2), (0, 0), (1, 1), false, false),
            ]),
            new Conv2dLayer("conv2", Random(rng, 16 * 8 * 9, 0.2), Random(rng, 16, 0.1), 8, 16, (3, 3), (1, 1), (1, 1), (1, 1), 1),
            new ActivationLayer("relu2", ActivationKind.Relu),
            new Pool2dLayer("pool2", PoolKind.Max, (2, 2), (2, 2), (0, 0), (1, 1), false, false),
            new FlattenLayer("flatten"),
            new LinearLayer("logits", Random(rng, 4 * 64, 0.2), Random(rng, 4, 0.1), 64, 4),
        ]);
    }

    private static LoweredGraph Apply(LoweredGraph graph, params string[] exposed) =>
        PoolBeforeReluPass.Apply(graph, layer => !Int8Layers.IsQuantized(layer, Quantization), exposed);

    private static string[] Describe(LoweredGraph graph) => graph.Layers
        .Select(l => $"{l.Layer.Kind} [{string.Join(",", l.InputShape)}]→[{string.Join(",", l.OutputShape)}] names: {string.Join(",", l.Names)}; range: {l.RangeName ?? "-"}")
        .ToArray();

    [Fact]
    public void Apply_PoolsBeforeTheReluAfterAFloat32Layer_AndTheReluAnswersForThePool()
    {
        LoweredGraph lowered = OnnxLowering.Lower(Cnn(), new OnnxExportOptions());

        Describe(lowered).Should().Equal(
            "Conv2d [1,8,8]→[8,8,8] names: block1.conv,block1.bn; range: block1.conv",
            "Relu [8,8,8]→[8,8,8] names: block1.relu; range: block1.relu",
            "MaxPool2d [8,8,8]→[8,4,4] names: block1.pool,block1; range: block1.pool",
            "Conv2d [8,4,4]→[16,4,4] names: conv2; range: conv2",
            "Relu [16,4,4]→[16,4,4] names: relu2; range: relu2",
            "MaxPool2d [16,4,4]→[16,2,2] names: pool2; range: pool2",
            "Flatten [16,2,2]→[64] names: flatten; range: flatten",
            "Linear [64]→[4] names: logits; range: logits");
        // Only after the float32 conv; conv2 is quantized, and its ReLU folds into its output quantization instead.
        Describe(Apply(lowered)).Should().Equal(
            "Conv2d [1,8,8]→[8,8,8] names: block1.conv,block1.bn; range: block1.conv",
            "MaxPool2d [8,8,8]→[8,4,4] names: ; range: -",
            "Relu [8,4,4]→[8,4,4] names: block1.relu,block1.pool,block1; range: block1.pool",
            "Conv2d [8,4,4]→[16,4,4] names: conv2; range: conv2",
            "Relu [16,4,4]→[16,4,4] names: relu2; range: relu2",
            "MaxPool2d [16,4,4]→[16,2,2] names: pool2; range: pool2",
            "Flatten [16,2,2]→[64] names: flatten; range: flatten",
            "Linear [64]→[4] names: logits; range: logits");
    }

    [Fact]
    public void Apply_LeavesTheGraphAlone_WhenTheReluIsExposed_OrTheLayerIsQuantized()
    {
        LoweredGraph lowered = OnnxLowering.Lower(Cnn(), new OnnxExportOptions { IntermediateOutputs = ["block1.relu"] });

        Apply(lowered, "block1.relu").Layers.Should().Equal(lowered.Layers);
        PoolBeforeReluPass.Apply(lowered, _ => false, []).Layers.Should().Equal(lowered.Layers);
        Apply(lowered, "block1.pool", "block1").Layers.Should().NotEqual(lowered.Layers, "only an exposed ReLU keeps its place");
    }

    [Fact]
    public void StaticInt8Export_WithThePass_SwapsTheNodes_AndGivesTheSameOutputs()
    {
        var rng = new Random(4);
        StudentGraph graph = Cnn();
        var options = new OnnxExportOptions { IntermediateOutputs = ["block1.conv", "block1.pool", "block1"] };
        Float32Tensor[] calibration = [new Float32Tensor(Enumerable.Range(0, 64 * 64).Select(_ => (float)rng.NextDouble()).ToArray(), 64, 1, 8, 8)];
        LoweredGraph lowered = OnnxLowering.Lower(graph, options);
        Dictionary<string, (float Min, float Max)> ranges = ActivationCalibrator.Calibrate(OnnxExporter.Write(lowered, options, new CalibrationEmitter()), options.InputName, calibration, Quantization);

        byte[] without = OnnxExporter.Write(lowered, options, new StaticInt8Emitter(ranges, Quantization));
        byte[] with = OnnxExporter.Write(Apply(lowered, [.. options.IntermediateOutputs]), options, new StaticInt8Emitter(ranges, Quantization));

        ExportedBytes.Fingerprint(with).Should().Be(ExportedBytes.Fingerprint(OnnxExporter.ExportInt8(graph, calibration, Quantization, options)), "the public export applies the pass");
        string[] opsWithout = NodeOps(without), opsWith = NodeOps(with);
        opsWithout[..4].Should().Equal("Conv", "Relu", "MaxPool", "QuantizeLinear");
        opsWith.Should().Equal([opsWithout[0], opsWithout[2], opsWithout[1], .. opsWithout[3..]], "the pass swaps the first ReLU and max-pool and changes nothing else");

        var x = new Float32Tensor(Enumerable.Range(0, 16 * 64).Select(_ => (float)rng.NextDouble()).ToArray(), 16, 1, 8, 8);
        Dictionary<string, float[]> a = Run(without, x), b = Run(with, x);
        a.Keys.Should().BeEquivalentTo("logits", "block1.conv", "block1.pool", "block1");
        foreach (string name in a.Keys)
        {
            b[name].Should().Equal(a[name], $"output {name} is the same with the pass (ReLU and max-pool commute)");
        }
    }

    private static Dictionary<string, float[]> Run(byte[] model, Float32Tensor x)
    {
        using var session = new InferenceSession(model);
        using OrtValue input = OrtValue.CreateTensorValueFromMemory(x.Data.ToArray(), x.Shape.Select(d => (long)d).ToArray());
        string[] names = [.. session.OutputMetadata.Keys];
        using var runOptions = new RunOptions();
        using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, ["input"], [input], names);
        return names.Select((n, i) => (n, results[i].GetTensorDataAsSpan<float>().ToArray())).ToDictionary(p => p.n, p => p.Item2);
    }

    /// <summary>The op types of the graph's nodes, in order.</summary>
    private static string[] NodeOps(byte[] model)
    {
        ReadOnlySpan<byte> graph = Field(model, Fields(model), 7).Single();
        List<ProtoReader.Field> graphFields = Fields(graph);
        return Field(graph, graphFields, 1).ToArray().Select(node => Encoding.UTF8.GetString(Field(node, Fields(node), 4).Single())).ToArray();
    }

    private static List<ProtoReader.Field> Fields(ReadOnlySpan<byte> message)
    {
        var fields = new List<ProtoReader.Field>();
        ProtoReader.TryReadFields(message, fields, out string? error).Should().BeTrue(error);
        return fields;
    }

    private static List<byte[]> Field(ReadOnlySpan<byte> message, List<ProtoReader.Field> fields, int number)
    {
        var payloads = new List<byte[]>();
        foreach (ProtoReader.Field f in fields.Where(f => f.Number == number))
        {
            payloads.Add(message.Slice(f.Offset, f.Length).ToArray());
        }
        return payloads;
    }
}
