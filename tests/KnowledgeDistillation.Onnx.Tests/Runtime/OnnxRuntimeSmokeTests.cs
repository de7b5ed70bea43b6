using KnowledgeDistillation.Onnx.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace KnowledgeDistillation.Onnx.Tests.Runtime;

public sealed class OnnxRuntimeSmokeTests
{
    [Fact]
    public void Info_ReportsVersionAndCpuProvider()
    {
        OnnxRuntimeInfo.Version.Should().StartWith("1.");
        OnnxRuntimeInfo.ExecutionProviders.Should().Contain("CPUExecutionProvider");
    }

    [Fact]
    public void Session_RunsAHandWrittenModel_WithADynamicBatch()
    {
        byte[] model = TinyOnnxModel.AddSelf();
        using var session = new InferenceSession(model);

        session.InputMetadata.Keys.Should().Equal("x");
        session.InputMetadata["x"].Dimensions.Should().Equal(-1, 3);

        foreach (int batch in new[] { 1, 4 })
        {
            float[] data = Enumerable.Range(0, batch * 3).Select(i => (float)i).ToArray();
            var input = new DenseTensor<float>(data, [batch, 3]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("x", input)]);
            float[] y = results.Single().AsEnumerable<float>().ToArray();
            y.Should().Equal(data.Select(v => v * 2));
        }
    }
}
