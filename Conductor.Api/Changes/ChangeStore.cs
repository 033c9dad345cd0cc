using Conductor.Api.Audit;
using Npgsql;

namespace Conductor.Api.Changes;

/// <summary>Change sets and their changes in Postgres.</summary>
public sealed class ChangeStore(NpgsqlDataSource dataSource, AuditLog audit)
{
    /// <summary>
    /// Applies one change under a row lock on it, so two appliers cannot both apply it: <paramref name="write"/> runs
    /// while the lock is held (unless the change is already applied) and returns why it refused, or null; the change
    /// is marked applied on null, and the outcome is audited in the same transaction as the change's new status.
    /// </summary>
    /// <returns>Why the change was refused, or null when it was applied.</returns>
    public async Task<string?> ApplyAsync(StoredChangeSet set, StoredChange change, Guid userId,
        Func<CancellationToken, Task<string?>> write, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        string status;
        await using (var lockRow = new NpgsqlCommand("SELECT status FROM changes WHERE id = $1 FOR UPDATE", connection, transaction))
        {
            lockRow.Parameters.Add(new NpgsqlParameter { Value = change.Id });
            status = (string)(await lockRow.ExecuteScalarAsync(cancellationToken))!;
        }

        var refusal = status == "applied" ? "the change was already applied" : await write(cancellationToken);
        if (refusal is null)
        {
            await using var update = new NpgsqlCommand(
                "UPDATE changes SET status = 'applied', applied_by = $2, applied_at = now() WHERE id = $1", connection, transaction);
            update.Parameters.Add(new NpgsqlParameter { Value = change.Id });
            update.Parameters.Add(new NpgsqlParameter { Value = userId });
            await update.ExecuteNonQueryAsync(cancellationToken);
        }
        await audit.AppendAsync(set.RoomId, userId, refusal is null ? AuditActions.Applied : AuditActions.Refused, "server", set.Id, change.Id,
            change.FilePath, refusal, cancellationToken, connection, transaction);
        await transaction.CommitAsync(cancellationToken);
        return refusal;
    }

    public async Task InsertAsync(StoredChangeSet set, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO change_sets (id, room_id, created_by, agent, provider, model, instruction, context_files, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = set.Id });
            insert.Parameters.Add(new NpgsqlParameter { Value = set.RoomId });
            insert.Parameters.Add(new NpgsqlParameter { Value = set.CreatedBy });
            insert.Parameters.Add(new NpgsqlParameter { Value = set.Agent });
            insert.Parameters.Add(new NpgsqlParameter { Value = set.Provider });
            insert.Parameters.Add(new NpgsqlParameter { Value = set.Model });
            insert.Parameters.Add(new NpgsqlParameter { Value = set.Instruction });
            insert.Parameters.Add(new NpgsqlParameter { Value = set.ContextFiles.ToArray() });
            insert.Parameters.Add(new NpgsqlParameter { Value = set.CreatedAt });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        foreach (var change in set.Changes)
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO changes (id, change_set_id, ordinal, file_path, type, content, diff, rationale, base_etag)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """, connection, transaction);
            insert.Parameters.Add(new NpgsqlParameter { Value = change.Id });
            insert.Parameters.Add(new NpgsqlParameter { Value = set.Id });
            insert.Parameters.Add(new NpgsqlParameter { Value = change.Ordinal });
            insert.Parameters.Add(new NpgsqlParameter { Value = change.FilePath });
            insert.Parameters.Add(new NpgsqlParameter { Value = change.Type });
            insert.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = change.Content });
            insert.Parameters.Add(new NpgsqlParameter { Value = change.Diff });
            insert.Parameters.Add(new NpgsqlParameter { Value = change.Rationale });
            insert.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = change.BaseETag });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<StoredChangeSet?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        StoredChangeSet set;
        await using (var select = new NpgsqlCommand($"{SelectSet} WHERE s.id = $1", connection))
        {
            select.Parameters.Add(new NpgsqlParameter { Value = id });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }
            set = ReadSet(reader);
        }
        var changes = await ReadChangesAsync(connection, [id], cancellationToken);
        return set with { Changes = changes.GetValueOrDefault(id, []) };
    }

    /// <summary>
    /// A room's change sets, newest first, with their changes: all of them, or only those with a change still
    /// pending (<see cref="ChangeStatuses"/>); after <paramref name="before"/> (a set of the room) when paging on.
    /// </summary>
    public async Task<IReadOnlyList<StoredChangeSet>> ListAsync(Guid roomId, bool pendingOnly, StoredChangeSet? before, int limit,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var sets = new List<StoredChangeSet>();
        await using (var select = new NpgsqlCommand($"""
            {SelectSet}
            WHERE s.room_id = $1
              AND (NOT $2 OR EXISTS (SELECT 1 FROM changes c WHERE c.change_set_id = s.id AND c.status = 'pending'
                   AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.change_set_id = s.id AND a.change_id = c.id AND a.action IN ('skipped', 'refused'))))
              AND ($3::timestamptz IS NULL OR (s.created_at, s.id) < ($3, $4))
            ORDER BY s.created_at DESC, s.id DESC
            LIMIT $5
            """, connection))
        {
            select.Parameters.Add(new NpgsqlParameter { Value = roomId });
            select.Parameters.Add(new NpgsqlParameter { Value = pendingOnly });
            select.Parameters.Add(new NpgsqlParameter<DateTimeOffset?> { TypedValue = before?.CreatedAt });
            select.Parameters.Add(new NpgsqlParameter<Guid?> { TypedValue = before?.Id });
            select.Parameters.Add(new NpgsqlParameter { Value = limit });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                sets.Add(ReadSet(reader));
            }
        }
        if (sets.Count == 0)
        {
            return sets;
        }
        var changes = await ReadChangesAsync(connection, sets.Select(s => s.Id).ToArray(), cancellationToken);
        return sets.Select(s => s with { Changes = changes.GetValueOrDefault(s.Id, []) }).ToList();
    }

    private const string SelectSet = """
        SELECT s.id, s.room_id, s.created_by, s.agent, s.provider, s.model, s.instruction, s.context_files, s.created_at, u.login
        FROM change_sets s JOIN users u ON u.id = s.created_by
        """;

    private static StoredChangeSet ReadSet(NpgsqlDataReader reader) => new(reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2),
        reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetString(6), reader.GetFieldValue<string[]>(7),
        reader.GetFieldValue<DateTimeOffset>(8), [], reader.GetString(9));

    /// <summary>The changes of the sets, in order, each with its review state: applied, or the latest skip or refusal in the audit trail.</summary>
    private static async Task<Dictionary<Guid, List<StoredChange>>> ReadChangesAsync(NpgsqlConnection connection, Guid[] setIds,
        CancellationToken cancellationToken)
    {
        await using var select = new NpgsqlCommand("""
            SELECT c.id, c.change_set_id, c.ordinal, c.file_path, c.type, c.content, c.diff, c.rationale, c.base_etag,
                   CASE WHEN c.status = 'applied' THEN 'applied' ELSE coalesce(r.action, 'pending') END,
                   CASE WHEN c.status = 'applied' THEN NULL ELSE r.detail END
            FROM changes c
            LEFT JOIN LATERAL (
                SELECT a.action, a.detail FROM audit_log a
                WHERE a.change_set_id = c.change_set_id AND a.change_id = c.id AND a.action IN ('skipped', 'refused')
                ORDER BY a.seq DESC LIMIT 1) r ON true
            WHERE c.change_set_id = ANY($1)
            ORDER BY c.change_set_id, c.ordinal
            """, connection);
        select.Parameters.Add(new NpgsqlParameter { Value = setIds });
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var changes = new Dictionary<Guid, List<StoredChange>>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var change = ReadChange(reader) with { Detail = reader.IsDBNull(10) ? null : reader.GetString(10) };
            if (!changes.TryGetValue(change.ChangeSetId, out var list))
            {
                changes[change.ChangeSetId] = list = [];
            }
            list.Add(change);
        }
        return changes;
    }

    /// <summary>A change with the room its set belongs to.</summary>
    public async Task<(StoredChange Change, Guid RoomId)?> FindChangeAsync(Guid changeId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT c.id, c.change_set_id, c.ordinal, c.file_path, c.type, c.content, c.diff, c.rationale, c.base_etag, c.status, s.room_id "
            + "FROM changes c JOIN change_sets s ON s.id = c.change_set_id WHERE c.id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = changeId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (ReadChange(reader), reader.GetGuid(10)) : null;
    }

    private static StoredChange ReadChange(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetGuid(1), reader.GetInt32(2), reader.GetString(3), reader.GetString(4),
        reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetString(6), reader.GetString(7),
        reader.IsDBNull(8) ? null : reader.GetString(8), reader.GetString(9));
}
