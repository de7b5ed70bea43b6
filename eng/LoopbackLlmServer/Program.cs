using System.Globalization;
using System.Runtime.InteropServices;
using KnowledgeDistillation.Extensions.AI.Tests.Server;

// Usage: dotnet run --project eng/LoopbackLlmServer -c Release -- [answer-delay-ms] [endpoint-file]
// Starts the loopback OpenAI-compatible server (127.0.0.1, a free port), prints its endpoint (and writes it to
// endpoint-file), and serves until Ctrl+C or SIGTERM. It accepts the key in KD_API_KEY's test value only:
// run kd with KD_API_KEY=sk-test-DO-NOT-LEAK-4f1d9c. Prompts may script failures: #429x2, #500x1, #hangx1, #dropx1, #malformedx1, #400, #401.
int delayMs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 0;
await using FakeOpenAIServer server = await FakeOpenAIServer.StartAsync();
server.AnswerDelay = TimeSpan.FromMilliseconds(delayMs);
server.HangFor = TimeSpan.FromMinutes(5);
Console.WriteLine(server.Endpoint);
if (args.Length > 1)
{
    await File.WriteAllTextAsync(args[1], server.Endpoint.ToString());
}
using var stop = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}
using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}
Console.WriteLine($"requests served: {server.RequestCount}");
