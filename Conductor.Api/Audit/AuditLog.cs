using Npgsql;

namespace Conductor.Api.Audit;

/// <summary>The append-only audit trail (table <c>audit_log</c>; the database refuses UPDATE, DELETE and TRUNCATE).</summary>
public sealed class AuditLog(NpgsqlDataSource dataSource, TimeProvider time)
{
    public const int MaxLimit = 1000;

    /// <summary>Appends an entry, inside the caller's transaction when one is given (so the entry and the act commit together).</summary>
    public async Task<AuditEntry> AppendAsync(Guid roomId, Guid userId, string action, string source, Guid? changeSetId, Guid? changeId,
        string filePath, string? detail, CancellationToken cancellationToken, NpgsqlConnection? connection = null, NpgsqlTransaction? transaction = null)
    {
        var entry = new AuditEntry(Guid.NewGuid(), roomId, userId, action, source, changeSetId, changeId, filePath, detail, time.GetUtcNow());
        const string sql = """
            INSERT INTO audit_log (id, room_id, user_id, action, source, change_set_id, change_id, file_path, detail, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            """;
        await using var command = connection is null ? dataSource.CreateCommand(sql) : new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = entry.Id });
        command.Parameters.Add(new NpgsqlParameter { Value = entry.RoomId });
        command.Parameters.Add(new NpgsqlParameter { Value = entry.UserId });
        command.Parameters.Add(new NpgsqlParameter { Value = entry.Action });
        command.Parameters.Add(new NpgsqlParameter { Value = entry.Source });
        command.Parameters.Add(new NpgsqlParameter<Guid?> { TypedValue = entry.ChangeSetId });
        command.Parameters.Add(new NpgsqlParameter<Guid?> { TypedValue = entry.ChangeId });
        command.Parameters.Add(new NpgsqlParameter { Value = entry.FilePath });
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = entry.Detail });
        command.Parameters.Add(new NpgsqlParameter { Value = entry.CreatedAt });
        await command.ExecuteNonQueryAsync(cancellationToken);
        return entry;
    }

    /// <summary>The room's entries after <paramref name="since"/> (exclusive), oldest first.</summary>
    public async Task<IReadOnlyList<AuditEntry>> QueryAsync(Guid roomId, DateTimeOffset? since, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT id, room_id, user_id, action, source, change_set_id, change_id, file_path, detail, created_at
            FROM audit_log WHERE room_id = $1 AND ($2::timestamptz IS NULL OR created_at > $2)
            ORDER BY created_at, seq LIMIT $3
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = roomId });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?> { TypedValue = since });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var entries = new List<AuditEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new AuditEntry(reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetGuid(5), reader.IsDBNull(6) ? null : reader.GetGuid(6), reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetString(8), reader.GetFieldValue<DateTimeOffset>(9)));
        }
        return entries;
    }
}
