using KnowledgeDistillation.IO;
using KnowledgeDistillation.TorchSharp.Teachers;
using System.Diagnostics;
using System.Globalization;
using KnowledgeDistillation.Caching;
using KnowledgeDistillation.Data;
using KnowledgeDistillation.Datasets;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.TorchSharp.Models;
using KnowledgeDistillation.TorchSharp.Runtime;
using KnowledgeDistillation.TorchSharp.Training;
using KnowledgeDistillation.Training;

namespace KnowledgeDistillation.Benchmarks;

/// <summary>
/// Epoch cost of a student trained from scratch, from a float32 teacher cache, and from the live teacher, measured with
/// the real <see cref="TorchDistiller"/>, interleaved round by round (the order rotates each round) so that load changes
/// on a shared machine hit all three alike. Reports each epoch, the medians and the minima.
/// </summary>
/// <remarks>
/// Usage: <c>dotnet run -c Release --project benchmarks/KnowledgeDistillation.Benchmarks -- cache-epoch
/// --teacher-weights FILE [--teacher cnn:32,64,128:bn] [--student cnn:16,32] [--images 10000] [--rounds 5] [--threads N] [--cache-dir DIR]</c>.
/// </remarks>
internal static class TeacherCacheEpochTiming
{
    /// <summary>Process CPU time (all threads) from the start of training (after validation) to the end of the epoch.</summary>
    private sealed class CpuClock : IDistillationCallback
    {
        private TimeSpan _start;

        public double Seconds { get; private set; }

        public void OnTrainingStarted(int startEpoch, int epochs, ITrainingControl control) => _start = Process.GetCurrentProcess().TotalProcessorTime;

        public void OnEpochCompleted(EpochSummary epoch, ITrainingControl control) => Seconds = (Process.GetCurrentProcess().TotalProcessorTime - _start).TotalSeconds;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        string Arg(string name, string fallback)
        {
            int at = Array.IndexOf(args, name);
            return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
        }
        string weights = Arg("--teacher-weights", "");
        string teacherSpec = Arg("--teacher", "cnn:32,64,128:bn"), studentSpec = Arg("--student", "cnn:16,32");
        int images = int.Parse(Arg("--images", "10000"), CultureInfo.InvariantCulture);
        int rounds = int.Parse(Arg("--rounds", "5"), CultureInfo.InvariantCulture);
        int? threadCount = args.Contains("--threads") ? int.Parse(Arg("--threads", "1"), CultureInfo.InvariantCulture) : null;
        string cacheDir = Arg("--cache-dir", Path.Combine(Path.GetTempPath(), $"kd-cache-epoch-{images}"));
        if (!File.Exists(weights))
        {
            Console.Error.WriteLine("cache-epoch: pass --teacher-weights FILE (a teacher trained by kd distill, e.g. .kd-cache/teacher-*.weights).");
            return 2;
        }

        TorchSharpRuntime.EnsureInitialized();
        if (threadCount is { } t)
        {
            global::TorchSharp.torch.set_num_threads(t);
        }
        int[] image = [1, 28, 28];
        LabeledImageSet train = FashionMnist.Load(DataSplit.Train).Take(images);
        using TorchModel teacher = TorchModel.FromPreset(teacherSpec, image, 10, seed: 0);
        WeightsFile.Load(teacher, weights);
        var clock = Stopwatch.StartNew();
        TeacherCacheWriteResult written = await TeacherCacheWriter.WriteAsync(teacher, train, cacheDir, new TeacherCacheOptions { TeacherId = teacherSpec });
        Console.WriteLine($"cache {cacheDir}: {written.ShardsWritten} shard(s) written, {written.ShardsSkipped} present ({clock.Elapsed.TotalSeconds:F1} s)");
        using TeacherCache cache = TeacherCache.Open(cacheDir, train, teacherSpec);

        // One libtorch thread makes process CPU time a robust measure on a shared machine (OpenMP threads spin while they wait).
        var options = new DistillationOptions { Epochs = 1, BatchSize = 128, LearningRate = 3e-3, Temperature = "1", Alpha = "0.7", Threads = threadCount };
        string[] modes = ["scratch", "cache", "live"];
        var times = modes.ToDictionary(m => m, _ => new List<double>());
        var cpuTimes = modes.ToDictionary(m => m, _ => new List<double>());
        int threads = global::TorchSharp.torch.get_num_threads();
        Console.WriteLine($"{images} images, batch 128, teacher {teacherSpec}, student {studentSpec}, {threads} libtorch thread(s), {Environment.ProcessorCount} cores");
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < modes.Length; i++)
            {
                string mode = modes[(i + round) % modes.Length];
                using TorchModel student = TorchModel.FromPreset(studentSpec, image, 10, seed: round);
                options.Seed = round;
                var cpu = new CpuClock();
                DistillationHistory history = mode switch
                {
                    "scratch" => await new TorchDistiller(options, new HardLabelLoss(), [cpu]).FitAsync(student, null, train),
                    "cache" => await new TorchDistiller(options, null, [cpu]).FitAsync(student, TeacherSignal.FromTargets(cache), train),
                    _ => await new TorchDistiller(options, null, [cpu]).FitAsync(student, teacher, train),
                };
                double seconds = history.Epochs[0].Duration.TotalSeconds;
                times[mode].Add(seconds);
                cpuTimes[mode].Add(cpu.Seconds);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round} {mode,-7} epoch {seconds,7:F2} s wall, {cpu.Seconds,7:F2} s CPU  loss {history.Epochs[0].TrainLoss["total"]:F4}"));
            }
        }
        static double Median(List<double> v)
        {
            double[] s = [.. v.Order()];
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
        }
        double scratch = Median(times["scratch"]);
        foreach (string mode in modes)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{mode,-7} wall median {Median(times[mode]),7:F2} s  min {times[mode].Min(),7:F2} s  median/scratch {Median(times[mode]) / scratch:F2}×  min/min {times[mode].Min() / times["scratch"].Min():F2}×  |  " +
                $"CPU median {Median(cpuTimes[mode]),7:F2} s  min {cpuTimes[mode].Min(),7:F2} s  median/scratch {Median(cpuTimes[mode]) / Median(cpuTimes["scratch"]):F2}×"));
        }
        return 0;
    }
}
