using Microsoft.Extensions.Logging;
using Npgsql;

namespace Conductor.Data.Migrations;

/// <summary>What one run did.</summary>
public sealed record MigrationRunResult(IReadOnlyList<Migration> Applied, int AlreadyApplied);

/// <summary>
/// Applies the pending migrations in version order. Every instance of every service may call this at start-up:
/// a session-level advisory lock, held on one connection for the whole run, lets exactly one of them work while
/// the others wait and then find nothing left to do. Each script runs in its own transaction together with its
/// history row, so a failing script leaves the schema as it was and is retried, whole, on the next start.
/// </summary>
public sealed partial class MigrationRunner(
    NpgsqlDataSource dataSource,
    IMigrationSource source,
    TimeProvider timeProvider,
    ILogger<MigrationRunner> logger)
{
    /// <summary>"Conductr" in ASCII: a fixed key every Conductor service agrees on.</summary>
    public const long AdvisoryLockKey = 0x43_6F_6E_64_75_63_74_72;

    public const string HistoryTable = "schema_migrations";

    public async Task<MigrationRunResult> RunAsync(CancellationToken cancellationToken)
    {
        var migrations = source.GetMigrations();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

        LogWaitingForLock(logger, AdvisoryLockKey);
        // No command timeout: another instance may legitimately hold the lock for a long migration; the host's
        // start-up cancellation is what bounds the wait.
        await ExecuteAsync(connection, "SELECT pg_advisory_lock(@key)", cancellationToken, ("key", AdvisoryLockKey)).ConfigureAwait(false);
        try
        {
            await ExecuteAsync(connection, $"""
                CREATE TABLE IF NOT EXISTS {HistoryTable} (
                    version    integer     PRIMARY KEY,
                    name       text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL
                )
                """, cancellationToken).ConfigureAwait(false);

            var history = await ReadHistoryAsync(connection, cancellationToken).ConfigureAwait(false);
            VerifyHistory(migrations, history);

            var applied = new List<Migration>();
            foreach (var migration in migrations.Where(m => !history.ContainsKey(m.Version)))
            {
                await ApplyAsync(connection, migration, cancellationToken).ConfigureAwait(false);
                applied.Add(migration);
            }

            LogFinished(logger, applied.Count, history.Count);
            return new MigrationRunResult(applied, history.Count);
        }
        finally
        {
            // Closing the connection would release the lock too; unlocking keeps a pooled connection clean.
            if (connection.State == System.Data.ConnectionState.Open)
            {
                await ExecuteAsync(connection, "SELECT pg_advisory_unlock(@key)", CancellationToken.None, ("key", AdvisoryLockKey)).ConfigureAwait(false);
            }
        }
    }

    private void VerifyHistory(IReadOnlyList<Migration> migrations, IReadOnlyDictionary<int, AppliedMigration> history)
    {
        foreach (var migration in migrations)
        {
            if (history.TryGetValue(migration.Version, out var row) && !string.Equals(row.Checksum, migration.Checksum, StringComparison.Ordinal))
            {
                var message = $"Migration {migration.FileName} was changed after it was applied (applied {row.AppliedAt:O} with checksum " +
                              $"{row.Checksum}, the file now hashes to {migration.Checksum}). Applied migrations are immutable: " +
                              "restore the file and add a new migration instead.";
                LogChecksumMismatch(logger, migration.FileName, row.Checksum, migration.Checksum);
                throw new MigrationException(migration.FileName, message);
            }
        }

        // A newer build may have applied versions this one does not know (a rollback during a rolling deploy):
        // worth a warning, not a refusal to start.
        var known = migrations.Select(m => m.Version).ToHashSet();
        foreach (var unknown in history.Values.Where(h => !known.Contains(h.Version)))
        {
            LogUnknownMigration(logger, unknown.Version, unknown.Name);
        }
    }

    private async Task ApplyAsync(NpgsqlConnection connection, Migration migration, CancellationToken cancellationToken)
    {
        LogApplying(logger, migration.FileName);
        var started = timeProvider.GetTimestamp();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using (var script = new NpgsqlCommand(migration.Sql, connection, transaction) { CommandTimeout = 0 })
            {
                await script.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await using (var record = new NpgsqlCommand(
                $"INSERT INTO {HistoryTable} (version, name, checksum, applied_at) VALUES (@version, @name, @checksum, @applied_at)",
                connection, transaction))
            {
                record.Parameters.AddWithValue("version", migration.Version);
                record.Parameters.AddWithValue("name", migration.Name);
                record.Parameters.AddWithValue("checksum", migration.Checksum);
                record.Parameters.AddWithValue("applied_at", timeProvider.GetUtcNow());
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex)
        {
            await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
            var message = $"Migration {migration.FileName} failed and was rolled back: {ex.MessageText} (SQLSTATE {ex.SqlState})" +
                          (ex.Detail is { Length: > 0 } detail ? $"; detail: {detail}" : "") +
                          (ex.Hint is { Length: > 0 } hint ? $"; hint: {hint}" : "") +
                          (ex.Position > 0 ? $"; at character {ex.Position} of the failing statement" : "");
            LogMigrationFailed(logger, ex, migration.FileName, ex.MessageText, ex.SqlState);
            throw new MigrationException(migration.FileName, message, ex);
        }
        LogApplied(logger, migration.FileName, timeProvider.GetElapsedTime(started).TotalMilliseconds);
    }

    private static async Task<Dictionary<int, AppliedMigration>> ReadHistoryAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT version, name, checksum, applied_at FROM {HistoryTable}", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var history = new Dictionary<int, AppliedMigration>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var row = new AppliedMigration(reader.GetInt32(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3));
            history[row.Version] = row;
        }
        return history;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private sealed record AppliedMigration(int Version, string Name, string Checksum, DateTimeOffset AppliedAt);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Waiting for the migration lock (advisory lock {LockKey})")]
    private static partial void LogWaitingForLock(ILogger logger, long lockKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applying migration {FileName}")]
    private static partial void LogApplying(ILogger logger, string fileName);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {FileName} in {ElapsedMs:0} ms")]
    private static partial void LogApplied(ILogger logger, string fileName, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Database schema is current: {AppliedCount} migration(s) applied now, {AlreadyAppliedCount} already applied")]
    private static partial void LogFinished(ILogger logger, int appliedCount, int alreadyAppliedCount);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Migration {FileName} failed and was rolled back: {PostgresMessage} (SQLSTATE {SqlState})")]
    private static partial void LogMigrationFailed(ILogger logger, Exception exception, string fileName, string postgresMessage, string sqlState);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Migration {FileName} changed after it was applied: recorded checksum {RecordedChecksum}, file checksum {FileChecksum}")]
    private static partial void LogChecksumMismatch(ILogger logger, string fileName, string recordedChecksum, string fileChecksum);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database has migration {Version} ({Name}) that this build does not know; a newer build applied it")]
    private static partial void LogUnknownMigration(ILogger logger, int version, string name);
}
