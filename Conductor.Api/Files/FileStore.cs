using System.Data;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Conductor.Api.Files;

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
