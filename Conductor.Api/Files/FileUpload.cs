using System.Security.Cryptography;
using Npgsql;
using NpgsqlTypes;

namespace Conductor.Api.Files;

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
