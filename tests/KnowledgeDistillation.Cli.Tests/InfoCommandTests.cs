using KnowledgeDistillation.Cli.Commands;

namespace KnowledgeDistillation.Cli.Tests;

public sealed class InfoCommandTests
{
    [Fact]
    public void Collect_FindsLibTorchOnnxRuntimeAndSimd()
    {
        EnvironmentInfo info = InfoCommand.Collect();

        info.Errors.Should().BeEmpty();
        info.LibTorchVersion.Should().StartWith("2.");
        info.TorchSharpVersion.Should().StartWith("0.");
        info.OnnxRuntimeVersion.Should().StartWith("1.");
        info.OnnxExecutionProviders.Should().Contain("CPUExecutionProvider");
        info.PreferredVectorBits.Should().BeOneOf(0, 128, 256, 512);
        info.LibraryVersion.Should().NotBeNullOrEmpty();
    }
}
