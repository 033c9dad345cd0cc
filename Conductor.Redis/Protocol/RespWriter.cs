using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Conductor.Redis.Protocol;

/// <summary>Serialises commands as RESP arrays of bulk strings, the form every Redis version accepts.</summary>
internal static class RespWriter
{
    public static void WriteCommand(IBufferWriter<byte> writer, string command, IReadOnlyList<RedisValue> args)
    {
        WriteHeader(writer, (byte)'*', args.Count + 1);
        var commandLength = Encoding.UTF8.GetByteCount(command);
        WriteHeader(writer, (byte)'$', commandLength);
        var span = writer.GetSpan(commandLength + 2);
        Encoding.UTF8.GetBytes(command, span);
        span[commandLength] = (byte)'\r';
        span[commandLength + 1] = (byte)'\n';
        writer.Advance(commandLength + 2);
        for (var i = 0; i < args.Count; i++)
        {
            WriteBulk(writer, args[i]);
        }
    }

    private static void WriteBulk(IBufferWriter<byte> writer, RedisValue value)
    {
        // A null argument is sent as an empty string, as redis-cli and StackExchange.Redis do.
        var length = value.GetByteCount();
        WriteHeader(writer, (byte)'$', length);
        var span = writer.GetSpan(length + 2);
        var written = value.WriteTo(span);
        span[written] = (byte)'\r';
        span[written + 1] = (byte)'\n';
        writer.Advance(written + 2);
    }

    private static void WriteHeader(IBufferWriter<byte> writer, byte prefix, int length)
    {
        var span = writer.GetSpan(16);
        span[0] = prefix;
        Utf8Formatter.TryFormat(length, span[1..], out var digits);
        span[1 + digits] = (byte)'\r';
        span[2 + digits] = (byte)'\n';
        writer.Advance(digits + 3);
    }
}

/// <summary>A growable buffer rented from the shared pool, reused for every batch a connection writes.</summary>
internal sealed class PooledBufferWriter : IBufferWriter<byte>, IDisposable
{
    private const int InitialSize = 16 * 1024;
    private const int RetainedSizeLimit = 1024 * 1024;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
    private int _written;

    public int WrittenCount => _written;

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureCapacity(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        EnsureCapacity(sizeHint);
        return _buffer.AsSpan(_written);
    }

    /// <summary>Empties the buffer; a buffer grown by one huge batch goes back to the pool rather than staying pinned here.</summary>
    public void Reset()
    {
        _written = 0;
        if (_buffer.Length > RetainedSizeLimit)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
        }
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private void EnsureCapacity(int sizeHint)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= sizeHint)
        {
            return;
        }
        var grown = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _written + sizeHint));
        _buffer.AsSpan(0, _written).CopyTo(grown);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = grown;
    }
}
