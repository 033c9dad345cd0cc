using Npgsql;

namespace Conductor.Api.Files;

/// <summary>Read-only, seekable, one chunk cached: what range processing needs without loading the whole file.</summary>
internal sealed class BlobReadStream(NpgsqlDataSource dataSource, Guid blobId, long length, int chunkSize) : Stream
{
    private byte[]? _chunk;
    private int _chunkSeq = -1;
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => _position = value is >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (!TryCopyFromChunk(buffer, out var copied))
        {
            LoadChunk(checked((int)(_position / chunkSize)), sync: true, CancellationToken.None).GetAwaiter().GetResult();
            TryCopyFromChunk(buffer, out copied);
        }
        return copied;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!TryCopyFromChunk(buffer.Span, out var copied))
        {
            await LoadChunk(checked((int)(_position / chunkSize)), sync: false, cancellationToken);
            TryCopyFromChunk(buffer.Span, out copied);
        }
        return copied;
    }

    /// <summary>False when the current chunk does not hold the position; true with 0 bytes at the end.</summary>
    private bool TryCopyFromChunk(Span<byte> buffer, out int copied)
    {
        copied = 0;
        if (_position >= length || buffer.IsEmpty)
        {
            return true;
        }
        var seq = _position / chunkSize;
        if (_chunk is null || seq != _chunkSeq)
        {
            return false;
        }
        var offset = (int)(_position - seq * chunkSize);
        var available = _chunk.Length - offset;
        if (available <= 0)
        {
            throw new InvalidDataException($"Blob {blobId} is shorter than its recorded size.");
        }
        copied = Math.Min(available, buffer.Length);
        _chunk.AsSpan(offset, copied).CopyTo(buffer);
        _position += copied;
        return true;
    }

    private async Task LoadChunk(int seq, bool sync, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT data FROM blob_chunks WHERE blob_id = $1 AND seq = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = blobId });
        command.Parameters.Add(new NpgsqlParameter { Value = seq });
        var data = sync ? command.ExecuteScalar() : await command.ExecuteScalarAsync(cancellationToken);
        _chunk = data as byte[] ?? throw new InvalidDataException($"Blob {blobId} has no chunk {seq}.");
        _chunkSeq = seq;
    }

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => length + offset,
    };

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
