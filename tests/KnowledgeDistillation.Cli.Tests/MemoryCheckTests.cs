using System.Text.RegularExpressions;
using KnowledgeDistillation.Cli.Commands;
using KnowledgeDistillation.Cli.Distill;
using KnowledgeDistillation.Cli.Tests.Support;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Datasets;

namespace KnowledgeDistillation.Cli.Tests;

/// <summary>
/// kd distill estimates the memory a configuration needs (batch × activations, parameters and optimiser state of teacher
/// and student, the data) and refuses, before anything trains, what cannot fit the cgroup limit or the physical memory.
/// The limit is injected: no test allocates gigabytes.
/// </summary>
public sealed class MemoryCheckTests : IDisposable
{
    private const long GiB = 1L << 30;
    private readonly string _dir = Directory.CreateTempSubdirectory("kd-memory-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Write(string relative, string text)
    {
        string path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    [Fact]
    public void Limit_CgroupV2_TakesTheSmallestLimitOnThePathUpToTheRoot_AndThePhysicalMemory()
    {
        Write("proc/self/cgroup", "0::/kd.slice/job-7\n");
        Write("sys/fs/cgroup/kd.slice/job-7/memory.max", "max\n");
        Write("sys/fs/cgroup/kd.slice/memory.max", "2147483648\n");
        Write("proc/meminfo", "MemTotal:        8388608 kB\nMemFree:          1000 kB\n");

        MemoryLimit limit = MemoryLimit.Detect(_dir);

        limit.Bytes.Should().Be(2 * GiB);
        limit.Source.Should().Contain(Path.Combine("kd.slice", "memory.max"));

        Write("proc/meminfo", "MemTotal:        1048576 kB\n");
        MemoryLimit.Detect(_dir).Should().Be(new MemoryLimit(1 * GiB, $"the physical memory (MemTotal in {Path.Combine(_dir, "proc", "meminfo")})"), "physical memory below the cgroup limit wins");
    }

    [Fact]
    public void Limit_CgroupV1_AndItsNoLimitValue()
    {
        Write("proc/self/cgroup", "9:name=systemd:/\n4:memory:/docker/abc\n3:cpuset:/\n");
        Write("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
        Write("sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "1073741824\n");
        Write("proc/meminfo", "MemTotal:        8388608 kB\n");

        MemoryLimit.Detect(_dir).Bytes.Should().Be(1 * GiB);

        Write("sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "9223372036854771712\n");
        MemoryLimit limit = MemoryLimit.Detect(_dir);
        limit.Bytes.Should().Be(8 * GiB, "v1's huge value means no limit: the physical memory bounds");
        limit.Source.Should().StartWith("the physical memory");
    }

    [Fact]
    public void Footprint_CountsParametersAndLayerOutputs_AsByHand()
    {
        // mlp:64: 784·64 + 64 + 64·10 + 10 parameters; outputs flatten 784, fc1 64, relu1 64, logits 10.
        ModelFootprint.Measure("mlp:64", [1, 28, 28], 10).Should().Be(new ModelFootprint(50_890, 922, 784));
        // cnn:4,8: conv 1·4·9 + 4, conv 4·8·9 + 8, logits 8·7·7·10 + 10; outputs 4·28² twice (conv, relu), 4·14², 8·14² twice, 8·7² twice (pool, flatten), 10.
        ModelFootprint.Measure("cnn:4,8", [1, 28, 28], 10).Should().Be(new ModelFootprint(40 + 296 + 3_930, (2 * 3_136) + 784 + (2 * 1_568) + (2 * 392) + 10, 3_136));
        // Counted on the meta device: 10 billion parameters take no memory and no time.
        ModelFootprint.ParameterCount("mlp:100000,100000", [1, 28, 28], 10).Should().Be((784L * 100_000) + 100_000 + (100_000L * 100_000) + 100_000 + (100_000L * 10) + 10);
    }

    [Fact]
    public void Estimate_FollowsTheDocumentedCount()
    {
        var teacher = new ModelFootprint(1_000_000, 100_000, 30_000);
        var student = new ModelFootprint(10_000, 1_000, 784);
        var inputs = new MemoryEstimate.Inputs(256, 60_000, 10_000, 784, teacher, 1, TrainTeacher: true, LiveTeacher: true, student);

        MemoryEstimate estimate = MemoryEstimate.For(inputs, 4 * GiB);

        long data = 70_000L * ((784 * 4) + 4);
        long teacherTraining = (16 * 1_000_000L) + (256 * 4 * (784 + (2 * 100_000L)));
        estimate.Bytes.Should().Be(MemoryEstimate.RuntimeBytes + data + teacherTraining, "teacher training is the larger phase here");
        long room = (4 * GiB) - MemoryEstimate.RuntimeBytes - data - (16 * 1_000_000L);
        estimate.LargestBatch.Should().Be(room / (4 * (784 + (2 * 100_000L))));
        MemoryEstimate.For(inputs with { BatchSize = estimate.LargestBatch }, 4 * GiB).Bytes.Should().BeLessThanOrEqualTo(4 * GiB);
        MemoryEstimate.For(inputs with { BatchSize = estimate.LargestBatch + 1 }, 4 * GiB).Bytes.Should().BeGreaterThan(4 * GiB);
    }

    [Fact]
    public async Task Distill_ABatchThatCannotFit_IsRefusedBeforeTraining_WithTheEstimateTheLimitAndTheLargestBatchThatFits()
    {
        var limit = new MemoryLimit(1 * GiB, "a 1 GiB test limit");
        var settings = new DistillSettings
        {
            Teacher = "cnn:32,64,128:bn",
            Student = "cnn:16,32",
            BatchSize = 8192,
            TrainLimit = 8192,
            TestLimit = 100,
            Seeds = [0],
            Threads = 1,
            OutputDirectory = Path.Combine(_dir, "out"),
            CacheDirectory = Path.Combine(_dir, "cache"),
            MemoryLimit = limit,
        };

        (int code, string errors) = await StandardError.CaptureAsync(() => DistillCommand.RunAsync(settings, new StringWriter(), CancellationToken.None));

        code.Should().Be(2, errors);
        errors.Should().Contain("kd distill: this configuration (--teacher cnn:32,64,128:bn, --student cnn:16,32, --batch-size 8192) needs an estimated")
            .And.Contain("teacher training: activations of 8192 images").And.Contain("more than the 1.0 GiB this process may use (a 1 GiB test limit)");
        Directory.Exists(settings.CacheDirectory).Should().BeFalse("nothing was trained");
        long largest = long.Parse(Regex.Match(errors, @"Use --batch-size (\d+) or less").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        largest.Should().BeInRange(100, 8191);

        // The suggested batch passes the check, one more does not.
        LabeledImageSet train = FashionMnist.Load(DataSplit.Train).Take(8192), test = FashionMnist.Load(DataSplit.Test).Take(100);
        new DistillRunner(settings with { BatchSize = (int)largest }, TextWriter.Null).CheckMemory(train, test);
        Action oneMore = () => new DistillRunner(settings with { BatchSize = (int)largest + 1 }, TextWriter.Null).CheckMemory(train, test);
        oneMore.Should().Throw<ArgumentException>();
    }

    [Fact]
    public async Task Distill_ModelsThatAloneCannotFit_AreRefusedWithoutAllocatingThem()
    {
        var settings = new DistillSettings
        {
            Teacher = "mlp:16",
            Student = "mlp:100000,100000",
            TrainLimit = 300,
            TestLimit = 100,
            Seeds = [0],
            Threads = 1,
            OutputDirectory = Path.Combine(_dir, "out"),
            CacheDirectory = Path.Combine(_dir, "cache"),
            MemoryLimit = new MemoryLimit(16 * GiB, "a 16 GiB test limit"),
        };

        (int code, string errors) = await StandardError.CaptureAsync(() => DistillCommand.RunAsync(settings, new StringWriter(), CancellationToken.None));

        code.Should().Be(2, errors);
        errors.Should().Contain("student training: weights, gradients and AdamW moments 150.2 GiB").And.Contain("The models alone do not fit");
        Directory.Exists(settings.CacheDirectory).Should().BeFalse();
    }
}
