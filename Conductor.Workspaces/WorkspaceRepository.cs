using Npgsql;

namespace Conductor.Workspaces;

/// <summary>The workspaces, workspace_credentials and workspace_stores tables.</summary>
public sealed class WorkspaceRepository(NpgsqlDataSource dataSource, TimeProvider time)
{
    private const string Columns = "room_id, repo_url, store_id, base_branch, branch, status, error, head_commit, created_by, job_id, created_at, updated_at";

    /// <summary>
    /// Creates the row in status creating with its protected credential, in one transaction. False when the room
    /// already has a workspace (a failed one is replaced: retrying after a failure needs no delete first).
    /// </summary>
    public async Task<bool> TryCreateAsync(Guid roomId, RemoteUrl remote, string baseBranch, Guid createdBy, string? protectedToken, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var insert = new NpgsqlCommand($"""
            INSERT INTO workspaces ({Columns})
            VALUES (@room, @url, @store, @base, @branch, 'creating', NULL, NULL, @by, NULL, @now, @now)
            ON CONFLICT (room_id) DO UPDATE SET repo_url = EXCLUDED.repo_url, store_id = EXCLUDED.store_id,
                base_branch = EXCLUDED.base_branch, status = 'creating', error = NULL, head_commit = NULL,
                created_by = EXCLUDED.created_by, job_id = NULL, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
            WHERE workspaces.status = 'failed'
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("room", roomId);
            insert.Parameters.AddWithValue("url", remote.GitUrl);
            insert.Parameters.AddWithValue("store", remote.StoreId);
            insert.Parameters.AddWithValue("base", baseBranch);
            insert.Parameters.AddWithValue("branch", WorkspaceRecord.BranchFor(roomId));
            insert.Parameters.AddWithValue("by", createdBy);
            insert.Parameters.AddWithValue("now", now);
            if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                return false;
            }
        }
        await using (var clear = new NpgsqlCommand("DELETE FROM workspace_credentials WHERE room_id = @room", connection, transaction))
        {
            clear.Parameters.AddWithValue("room", roomId);
            await clear.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        if (protectedToken is not null)
        {
            await using var credential = new NpgsqlCommand(
                "INSERT INTO workspace_credentials (room_id, protected_token, created_at) VALUES (@room, @token, @now)", connection, transaction);
            credential.Parameters.AddWithValue("room", roomId);
            credential.Parameters.AddWithValue("token", protectedToken);
            credential.Parameters.AddWithValue("now", now);
            await credential.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<WorkspaceRecord?> GetAsync(Guid roomId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM workspaces WHERE room_id = @room");
        command.Parameters.AddWithValue("room", roomId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        return new WorkspaceRecord(
            reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
            reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7), reader.GetGuid(8),
            reader.IsDBNull(9) ? null : reader.GetGuid(9), reader.GetFieldValue<DateTimeOffset>(10), reader.GetFieldValue<DateTimeOffset>(11));
    }

    public Task SetJobAsync(Guid roomId, Guid jobId, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE workspaces SET job_id = @job WHERE room_id = @room", cancellationToken, ("room", roomId), ("job", jobId));

    /// <summary>Moves the workspace to <paramref name="status"/>, only from one of <paramref name="from"/>. False when it was elsewhere (or gone).</summary>
    public async Task<bool> SetStatusAsync(Guid roomId, string status, string? error, string? headCommit, string[] from, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            UPDATE workspaces SET status = @status, error = @error, head_commit = COALESCE(@head, head_commit), updated_at = @now
            WHERE room_id = @room AND status = ANY(@from)
            """, cancellationToken, ("room", roomId), ("status", status), ("error", (object?)error ?? DBNull.Value),
            ("head", (object?)headCommit ?? DBNull.Value), ("now", time.GetUtcNow()), ("from", from)) > 0;

    public async Task<string?> GetProtectedTokenAsync(Guid roomId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT protected_token FROM workspace_credentials WHERE room_id = @room");
        command.Parameters.AddWithValue("room", roomId);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    /// <summary>Deletes the workspace (its credential goes with it) and, when no room uses the store any more, starts the store's grace period.</summary>
    public async Task DeleteAsync(Guid roomId, string storeId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var delete = new NpgsqlCommand("DELETE FROM workspaces WHERE room_id = @room", connection, transaction))
        {
            delete.Parameters.AddWithValue("room", roomId);
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using (var unused = new NpgsqlCommand("""
            UPDATE workspace_stores SET unused_since = @now
            WHERE id = @store AND unused_since IS NULL AND NOT EXISTS (SELECT 1 FROM workspaces WHERE store_id = @store)
            """, connection, transaction))
        {
            unused.Parameters.AddWithValue("store", storeId);
            unused.Parameters.AddWithValue("now", time.GetUtcNow());
            await unused.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records that the store exists and is in use (cancelling any grace period).</summary>
    public Task UpsertStoreAsync(RemoteUrl remote, CancellationToken cancellationToken) =>
        ExecuteAsync("""
            INSERT INTO workspace_stores (id, remote_url, created_at, unused_since) VALUES (@id, @url, @now, NULL)
            ON CONFLICT (id) DO UPDATE SET unused_since = NULL
            """, cancellationToken, ("id", remote.StoreId), ("url", remote.NormalizedUrl), ("now", time.GetUtcNow()));

    public async Task<IReadOnlyList<string>> GetExpiredStoresAsync(DateTimeOffset unusedBefore, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT s.id FROM workspace_stores s
            WHERE s.unused_since IS NOT NULL AND s.unused_since <= @before
              AND NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.store_id = s.id)
            """);
        command.Parameters.AddWithValue("before", unusedBefore);
        var ids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    }

    /// <summary>Forgets the store if it is still unused; false when a room started using it meanwhile.</summary>
    public async Task<bool> DeleteStoreIfUnusedAsync(string storeId, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            DELETE FROM workspace_stores s WHERE s.id = @id AND s.unused_since IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.store_id = s.id)
            """, cancellationToken, ("id", storeId)) > 0;

    private async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
