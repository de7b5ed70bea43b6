namespace KnowledgeDistillation.Extensions.AI.Generation;

/// <summary>
/// Reads a stream as lines of raw bytes (split at <c>\n</c>, a trailing <c>\r</c> removed), so that callers can decode
/// strictly or copy lines byte for byte. The last line is returned even without a final newline
/// (<see cref="EndedWithNewline"/> tells).
/// </summary>
internal sealed class ByteLineReader(Stream stream)
{
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _start, _end;
    private bool _eof;
    private readonly MemoryStream _line = new();

    /// <summary>1-based number of the line last returned.</summary>
    public int LineNumber { get; private set; }

    /// <summary>Whether the line last returned ended with a newline (false only for a last line without one).</summary>
    public bool EndedWithNewline { get; private set; }

    /// <summary>The next line (valid until the next call), or null at the end of the stream.</summary>
    public async ValueTask<ReadOnlyMemory<byte>?> ReadLineAsync(CancellationToken cancellationToken)
    {
        _line.SetLength(0);
        while (true)
        {
            if (_start == _end)
            {
                if (_eof)
                {
                    break;
                }
                _start = 0;
                _end = await stream.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
                if (_end == 0)
                {
                    _eof = true;
                    break;
                }
            }
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                _line.Write(_buffer, _start, newline - _start);
                _start = newline + 1;
                EndedWithNewline = true;
                return Finish();
            }
            _line.Write(_buffer, _start, _end - _start);
            _start = _end;
        }
        if (_line.Length == 0)
        {
            return null;
        }
        EndedWithNewline = false;
        return Finish();
    }

    private ReadOnlyMemory<byte> Finish()
    {
        LineNumber++;
        int length = (int)_line.Length;
        byte[] bytes = _line.GetBuffer();
        if (length > 0 && bytes[length - 1] == (byte)'\r')
        {
            length--;
        }
        return bytes.AsMemory(0, length);
    }
}
