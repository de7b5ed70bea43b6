namespace KnowledgeDistillation.Cli.Tests.Support;

/// <summary>Captures what a verb run in-process writes to <see cref="Console.Error"/> (this assembly runs its tests one at a time).</summary>
internal static class StandardError
{
    public static async Task<(int Code, string Errors)> CaptureAsync(Func<Task<int>> run)
    {
        var errors = new StringWriter();
        TextWriter saved = Console.Error;
        Console.SetError(errors);
        try
        {
            int code = await run();
            return (code, errors.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }
}
