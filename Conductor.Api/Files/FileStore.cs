using System.Data;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Conductor.Api.Files;

public sealed record StoredFile(Guid Id, Guid RoomId, string Sha256, string Filename, string ContentType, long Size,
    Guid UploadedBy, DateTimeOffset CreatedAt, Guid BlobId, int ChunkSize);

/// <summary>The upload went over <see cref="FileOptions.MaxUploadBytes"/>; nothing was stored.</summary>
public sealed class FileTooLargeException(long limit) : Exception($"The file is larger than {limit} bytes.")
{
    public long Limit { get; } = limit;
}

/// <summary>
/// Files and their bytes in Postgres. An upload streams into chunk rows under a fresh blob id inside one transaction
/// while it is hashed; only when the last byte is in does the hash decide whether those chunks become the stored copy
/// or are dropped for the copy already there. A refused or broken upload rolls back and leaves nothing behind.
/// </summary>
public sealed class FileStore(NpgsqlDataSource dataSource, IOptions<FileOptions> options, TimeProvider time)
{
    private FileOptions Limits => options.Value;

    public async Task<FileUpload> BeginUploadAsync(CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
            return new FileUpload(connection, transaction, Limits.MaxUploadBytes, Limits.ChunkBytes, time);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public async Task<StoredFile?> GetAsync(Guid fileId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"{SelectFile} WHERE f.id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = fileId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadFile(reader) : null;
    }

    public async Task<IReadOnlyList<StoredFile>> ListAsync(Guid roomId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"{SelectFile} WHERE f.room_id = $1 ORDER BY f.created_at DESC, f.id LIMIT $2");
        command.Parameters.Add(new NpgsqlParameter { Value = roomId });
        command.Parameters.Add(new NpgsqlParameter { Value = Limits.MaxListed });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var files = new List<StoredFile>();
        while (await reader.ReadAsync(cancellationToken))
        {
            files.Add(ReadFile(reader));
        }
        return files;
    }

    /// <summary>Deletes the file; its bytes go too when no other file (in any room) shares them.</summary>
    public async Task<bool> DeleteAsync(Guid fileId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        string? sha256;
        await using (var delete = new NpgsqlCommand("DELETE FROM files WHERE id = $1 RETURNING sha256", connection, transaction))
        {
            delete.Parameters.Add(new NpgsqlParameter { Value = fileId });
            sha256 = await delete.ExecuteScalarAsync(cancellationToken) as string;
        }
        if (sha256 is null)
        {
            return false;
        }
        // Lock the blob first, then look for references in a fresh statement: an upload that is attaching a file to
        // this blob holds the same row lock, so either its file row is visible here or it finds the blob gone and
        // stores its own copy.
        await using (var lockBlob = new NpgsqlCommand("SELECT blob_id FROM blobs WHERE sha256 = $1 FOR UPDATE", connection, transaction))
        {
            lockBlob.Parameters.Add(new NpgsqlParameter { Value = sha256 });
            if (await lockBlob.ExecuteScalarAsync(cancellationToken) is not null)
            {
                await using var collect = new NpgsqlCommand("""
                    WITH gone AS (
                        DELETE FROM blobs WHERE sha256 = $1 AND NOT EXISTS (SELECT 1 FROM files WHERE sha256 = $1) RETURNING blob_id)
                    DELETE FROM blob_chunks WHERE blob_id IN (SELECT blob_id FROM gone)
                    """, connection, transaction);
                collect.Parameters.Add(new NpgsqlParameter { Value = sha256 });
                await collect.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>A seekable read-only view of a file's bytes that fetches one chunk at a time (so ranges read little).</summary>
    public Stream OpenRead(StoredFile file) => new BlobReadStream(dataSource, file.BlobId, file.Size, file.ChunkSize);

    private const string SelectFile = """
        SELECT f.id, f.room_id, f.sha256, f.filename, f.content_type, f.size, f.uploaded_by, f.created_at, b.blob_id, b.chunk_size
        FROM files f JOIN blobs b ON b.sha256 = f.sha256
        """;

    internal static StoredFile ReadFile(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt64(5),
        reader.GetGuid(6), reader.GetFieldValue<DateTimeOffset>(7), reader.GetGuid(8), reader.GetInt32(9));
}

/// <summary>One upload in progress: bytes go in with <see cref="WriteAsync"/>, then <see cref="CompleteAsync"/> or dispose.</summary>
public sealed class FileUpload : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private readonly long _maxBytes;
    private readonly byte[] _chunk;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly TimeProvider _time;
    private readonly Guid _blobId = Guid.NewGuid();
    private int _chunkFill;
    private int _seq;
    private long _size;
    private bool _completed;

    internal FileUpload(NpgsqlConnection connection, NpgsqlTransaction transaction, long maxBytes, int chunkBytes, TimeProvider time)
    {
        _connection = connection;
        _transaction = transaction;
        _maxBytes = maxBytes;
        _chunk = new byte[chunkBytes];
        _time = time;
    }

    public long Size => _size;

    /// <summary>Copies the stream in, hashing as it goes; throws <see cref="FileTooLargeException"/> at the first byte over the limit.</summary>
    public async Task CopyFromAsync(Stream source, CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await source.ReadAsync(_chunk.AsMemory(_chunkFill), cancellationToken);
            if (read == 0)
            {
                return;
            }
            _size += read;
            if (_size > _maxBytes)
            {
                throw new FileTooLargeException(_maxBytes);
            }
            _hash.AppendData(_chunk, _chunkFill, read);
            _chunkFill += read;
            if (_chunkFill == _chunk.Length)
            {
                await FlushChunkAsync(cancellationToken);
            }
        }
    }

    private async Task FlushChunkAsync(CancellationToken cancellationToken)
    {
        if (_chunkFill == 0 && _seq > 0)
        {
            return;
        }
        await using var insert = new NpgsqlCommand("INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)", _connection, _transaction);
        insert.Parameters.Add(new NpgsqlParameter { Value = _blobId });
        insert.Parameters.Add(new NpgsqlParameter { Value = _seq });
        insert.Parameters.Add(new NpgsqlParameter<ReadOnlyMemory<byte>> { TypedValue = _chunk.AsMemory(0, _chunkFill), NpgsqlDbType = NpgsqlDbType.Bytea });
        await insert.ExecuteNonQueryAsync(cancellationToken);
        _seq++;
        _chunkFill = 0;
    }

    /// <summary>
    /// Stores the file in the room: the existing file when the room already has these bytes (deduplicated), else a new
    /// file id over the stored copy of the bytes (shared with other rooms, invisible to them).
    /// </summary>
    public async Task<(StoredFile File, bool Deduplicated)> CompleteAsync(Guid roomId, Guid userId, string filename, string contentType,
        CancellationToken cancellationToken)
    {
        if (_chunkFill > 0 || _seq == 0)
        {
            await FlushChunkAsync(cancellationToken);
        }
        var sha256 = Convert.ToHexStringLower(_hash.GetHashAndReset());
        var now = _time.GetUtcNow();

        // DO UPDATE (not DO NOTHING) so the blob row is locked until commit: a concurrent delete cannot collect it
        // between here and the file row that references it.
        Guid storedBlobId;
        await using (var upsert = new NpgsqlCommand("""
            INSERT INTO blobs (sha256, blob_id, size, chunk_size, created_at) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256
            RETURNING blob_id
            """, _connection, _transaction))
        {
            upsert.Parameters.Add(new NpgsqlParameter { Value = sha256 });
            upsert.Parameters.Add(new NpgsqlParameter { Value = _blobId });
            upsert.Parameters.Add(new NpgsqlParameter { Value = _size });
            upsert.Parameters.Add(new NpgsqlParameter { Value = _chunk.Length });
            upsert.Parameters.Add(new NpgsqlParameter { Value = now });
            storedBlobId = (Guid)(await upsert.ExecuteScalarAsync(cancellationToken))!;
        }
        if (storedBlobId != _blobId)
        {
            await using var drop = new NpgsqlCommand("DELETE FROM blob_chunks WHERE blob_id = $1", _connection, _transaction);
            drop.Parameters.Add(new NpgsqlParameter { Value = _blobId });
            await drop.ExecuteNonQueryAsync(cancellationToken);
        }

        var fileId = Guid.NewGuid();
        bool inserted;
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO files (id, room_id, sha256, filename, content_type, size, uploaded_by, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (room_id, sha256) DO NOTHING
            """, _connection, _transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = fileId });
            insert.Parameters.Add(new NpgsqlParameter { Value = roomId });
            insert.Parameters.Add(new NpgsqlParameter { Value = sha256 });
            insert.Parameters.Add(new NpgsqlParameter { Value = filename });
            insert.Parameters.Add(new NpgsqlParameter { Value = contentType });
            insert.Parameters.Add(new NpgsqlParameter { Value = _size });
            insert.Parameters.Add(new NpgsqlParameter { Value = userId });
            insert.Parameters.Add(new NpgsqlParameter { Value = now });
            inserted = await insert.ExecuteNonQueryAsync(cancellationToken) == 1;
        }
        StoredFile? file;
        await using (var select = new NpgsqlCommand("""
            SELECT f.id, f.room_id, f.sha256, f.filename, f.content_type, f.size, f.uploaded_by, f.created_at, b.blob_id, b.chunk_size
            FROM files f JOIN blobs b ON b.sha256 = f.sha256 WHERE f.room_id = $1 AND f.sha256 = $2
            """, _connection, _transaction))
        {
            select.Parameters.Add(new NpgsqlParameter { Value = roomId });
            select.Parameters.Add(new NpgsqlParameter { Value = sha256 });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            file = await reader.ReadAsync(cancellationToken) ? FileStore.ReadFile(reader) : null;
        }
        if (file is null)
        {
            // The room's earlier copy was deleted between our insert and this read; the caller may simply retry.
            throw new InvalidOperationException("The room's existing copy of this file was deleted during the upload.");
        }
        await _transaction.CommitAsync(cancellationToken);
        _completed = true;
        return (file, !inserted);
    }

    public async ValueTask DisposeAsync()
    {
        _hash.Dispose();
        if (!_completed)
        {
            try
            {
                await _transaction.RollbackAsync(CancellationToken.None);
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                // The connection broke; Postgres rolls back an unfinished transaction on its own.
            }
        }
        await _transaction.DisposeAsync();
        await _connection.DisposeAsync();
    }
}

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
