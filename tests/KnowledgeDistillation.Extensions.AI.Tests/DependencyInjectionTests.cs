using KnowledgeDistillation.Extensions.AI.Caching;
using KnowledgeDistillation.Extensions.AI.DependencyInjection;
using KnowledgeDistillation.Extensions.AI.Generation;
using KnowledgeDistillation.Extensions.AI.Teachers;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;

namespace KnowledgeDistillation.Extensions.AI.Tests;

public sealed class DependencyInjectionTests : LoopbackTestBase
{
    [Fact]
    public async Task AddChatClientTeacher_ComposesWithAddChatClient_AndUsesTheRegisteredDistributedCache()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDistributedMemoryCache();   // stands in for Redis: any IDistributedCache
        services.AddChatClient(Client()).UseLogging();
        services.AddChatClientTeacher(o => { o.Model = "teacher-1"; o.TopLogProbabilities = 1; }, g => g.MaxConcurrency = 2);
        await using ServiceProvider provider = services.BuildServiceProvider();

        ChatClientTeacher teacher = provider.GetRequiredService<ChatClientTeacher>();
        teacher.Should().BeSameAs(provider.GetRequiredService<ChatClientTeacher>());
        TeacherResponse first = await teacher.GenerateAsync(TeacherPrompt.FromText("a", "through DI"));
        TeacherResponse second = await teacher.GenerateAsync(TeacherPrompt.FromText("b", "through DI"));

        first.FromCache.Should().BeFalse();
        first.LogProbabilities.Should().NotBeNullOrEmpty("the OpenAI raw representation survives the UseLogging middleware");
        second.FromCache.Should().BeTrue();
        second.PromptId.Should().Be("b");
        second.Text.Should().Be(first.Text);
        Server.RequestCount.Should().Be(1);
        provider.GetRequiredService<TeacherDataGenerator>().Should().NotBeNull();
    }

    [Fact]
    public async Task WithoutARegisteredCache_TheDefaultIsOnDisk()
    {
        string cacheDir = Path.Combine(Dir, "disk-cache");
        var services = new ServiceCollection();
        services.AddChatClient(Client());
        services.AddChatClientTeacher(o => o.Model = "teacher-1", cacheDirectory: cacheDir);
        await using ServiceProvider provider = services.BuildServiceProvider();

        await provider.GetRequiredService<ChatClientTeacher>().GenerateAsync(TeacherPrompt.FromText("a", "to disk"));

        Directory.GetFiles(cacheDir, "*.entry", SearchOption.AllDirectories).Should().ContainSingle();
        provider.GetService<IDistributedCache>().Should().BeNull("the default cache is the teacher's own, not a registration");
    }

    [Fact]
    public void WithoutAChatClient_ResolvingSaysWhatToRegister()
    {
        var services = new ServiceCollection();
        services.AddChatClientTeacher();
        using ServiceProvider provider = services.BuildServiceProvider();
        Action resolve = () => provider.GetRequiredService<ChatClientTeacher>();
        resolve.Should().Throw<InvalidOperationException>().WithMessage("*AddChatClient*");
    }
}
