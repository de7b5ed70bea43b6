using System.Text;
using KnowledgeDistillation.Extensions.AI.Teachers;

namespace KnowledgeDistillation.Cli.Commands;

/// <summary>
/// A text writer that masks secrets (the API key, a Redis password, bearer tokens) in every line before it reaches
/// the inner writer: the last line of defence of <c>kd generate</c>'s standard error. Text is buffered until a newline
/// so that a secret split across two writes is still found.
/// </summary>
internal sealed class RedactingWriter(TextWriter inner, SecretRedactor redactor) : TextWriter
{
    private readonly Lock _lock = new();
    private readonly StringBuilder _pending = new();

    public override Encoding Encoding => inner.Encoding;

    public override void Write(char value)
    {
        lock (_lock)
        {
            _pending.Append(value);
            if (value == '\n')
            {
                FlushPending();
            }
        }
    }

    public override void Write(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }
        lock (_lock)
        {
            _pending.Append(value);
            if (value.Contains('\n', StringComparison.Ordinal))
            {
                FlushPending();
            }
        }
    }

    public override void WriteLine(string? value)
    {
        lock (_lock)
        {
            _pending.Append(value).Append(CoreNewLine);
            FlushPending();
        }
    }

    public override Task WriteLineAsync(string? value)
    {
        WriteLine(value);
        return Task.CompletedTask;
    }

    public override Task WriteAsync(string? value)
    {
        Write(value);
        return Task.CompletedTask;
    }

    public override void Flush()
    {
        lock (_lock)
        {
            FlushPending();
            inner.Flush();
        }
    }

    private void FlushPending()
    {
        if (_pending.Length == 0)
        {
            return;
        }
        inner.Write(redactor.Redact(_pending.ToString()));
        _pending.Clear();
        inner.Flush();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Flush();
        }
        base.Dispose(disposing);
    }
}
