using KnowledgeDistillation.Extensions.AI.Caching;
using Microsoft.Extensions.Caching.Distributed;

namespace KnowledgeDistillation.Extensions.AI.Tests;

public sealed class FileDistributedCacheTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-cache-").FullName;
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task SetThenGet_RoundTrips_AcrossInstances_AndLeavesNoTemporaryFiles()
    {
        var cache = new FileDistributedCache(_dir, _clock);
        await cache.SetAsync("k1", [1, 2, 3], new DistributedCacheEntryOptions());
        await cache.SetAsync("k1", [4, 5], new DistributedCacheEntryOptions());   // overwrite

        (await new FileDistributedCache(_dir, _clock).GetAsync("k1")).Should().Equal(4, 5);
        cache.Get("other").Should().BeNull();
        Directory.GetFiles(_dir, "*.tmp", SearchOption.AllDirectories).Should().BeEmpty();
        await cache.RemoveAsync("k1");
        cache.Get("k1").Should().BeNull();
    }

    [Fact]
    public void AbsoluteAndSlidingExpirations_AreHonoured()
    {
        var cache = new FileDistributedCache(_dir, _clock);
        cache.Set("abs", [1], new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(10) });
        cache.Set("slide", [2], new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromMinutes(10) });

        _clock.Advance(TimeSpan.FromMinutes(6));
        cache.Get("abs").Should().Equal(1);
        cache.Get("slide").Should().Equal(2);   // read: the window starts again
        _clock.Advance(TimeSpan.FromMinutes(6));
        cache.Get("abs").Should().BeNull();
        cache.Get("slide").Should().Equal(2);
        _clock.Advance(TimeSpan.FromMinutes(11));
        cache.Get("slide").Should().BeNull();
    }

    [Fact]
    public void DamagedEntry_ReadsAsAMiss_AndIsReplacedByTheNextSet()
    {
        var cache = new FileDistributedCache(_dir, _clock);
        cache.Set("k", [9, 9, 9], new DistributedCacheEntryOptions());
        string file = Directory.GetFiles(_dir, "*.entry", SearchOption.AllDirectories).Single();
        File.WriteAllBytes(file, [1, 2]);

        cache.Get("k").Should().BeNull();
        cache.Set("k", [7], new DistributedCacheEntryOptions());
        cache.Get("k").Should().Equal(7);
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        private DateTimeOffset _now = now;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
