using KnowledgeDistillation.Extensions.AI.Caching;
using KnowledgeDistillation.Extensions.AI.DependencyInjection;
using KnowledgeDistillation.Extensions.AI.Teachers;
using KnowledgeDistillation.Extensions.AI.Tests.Server;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace KnowledgeDistillation.Extensions.AI.Tests;

/// <summary>The teacher's Redis cache through DI, against a real redis-server on loopback.</summary>
public sealed class RedisCacheTests : LoopbackTestBase
{
    private ServiceProvider Provider(string redisUrl)
    {
        var services = new ServiceCollection();
        services.AddDistributedMemoryCache();   // the application's own cache: the teacher's Redis cache takes precedence
        services.AddChatClient(Client());
        services.AddChatClientTeacher(o => { o.Model = "teacher-1"; o.TopLogProbabilities = 1; });
        services.AddChatClientTeacherRedisCache(redisUrl);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task AddChatClientTeacherRedisCache_SharesAnswersThroughARealRedis_AcrossServiceProviders()
    {
        await using RedisServer redis = await RedisServer.StartAsync();

        await using (ServiceProvider first = Provider(redis.Url))
        {
            TeacherResponse paid = await first.GetRequiredService<ChatClientTeacher>().GenerateAsync(TeacherPrompt.FromText("a", "shared through redis")).WaitAsync(TimeSpan.FromSeconds(30));
            paid.FromCache.Should().BeFalse();
        }
        await using ServiceProvider second = Provider(redis.Url);   // a new process would look the same: an empty memory cache
        TeacherResponse free = await second.GetRequiredService<ChatClientTeacher>().GenerateAsync(TeacherPrompt.FromText("b", "shared through redis")).WaitAsync(TimeSpan.FromSeconds(30));

        free.FromCache.Should().BeTrue();
        free.PromptId.Should().Be("b");
        free.LogProbabilities.Should().NotBeNullOrEmpty();
        Server.RequestCount.Should().Be(1);
    }

    [Theory]
    [InlineData("redis://127.0.0.1:6380/2", "127.0.0.1:6380", 2, false)]
    [InlineData("rediss://:pw@cache.internal", "cache.internal:6379", null, true)]
    public void RedisUrl_IsParsed(string url, string endpoint, int? database, bool ssl)
    {
        var options = RedisTeacherCache.ParseUrl(url);
        options.ConfigurationOptions!.ToString(includePassword: false).Should().StartWith(endpoint + ",").And.NotContain("pw");
        options.ConfigurationOptions.DefaultDatabase.Should().Be(database);
        options.ConfigurationOptions.Ssl.Should().Be(ssl);
        options.InstanceName.Should().Be("kd:llm:");
    }

    [Fact]
    public void RedisUrl_Invalid_IsRefused_WithoutShowingThePassword()
    {
        Action bad = () => RedisTeacherCache.ParseUrl("redis://:hunter2@host/notanumber");
        bad.Should().Throw<FormatException>().Which.Message.Should().NotContain("hunter2").And.Contain("database number");
        RedisTeacherCache.PasswordOf("redis://user:hunter2@host:1").Should().Be("hunter2");
        RedisTeacherCache.Describe("redis://user:hunter2@host:1").Should().Be("redis://host:1");
    }
}
