using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Conductor.Api.Commands;

/// <summary>Room command settings and command runs in Postgres (tables <c>command_settings</c>, <c>command_runs</c>).</summary>
public sealed class CommandStore(NpgsqlDataSource dataSource, IOptions<CommandOptions> options)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public async Task<CommandSettings> GetSettingsAsync(Guid roomId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT allowlist, max_concurrent, network FROM command_settings WHERE room_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = roomId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var limits = options.Value;
        if (!await reader.ReadAsync(cancellationToken))
        {
            return new CommandSettings(limits.Defaults, true, limits.DefaultMaxConcurrent, false);
        }
        var allowlist = reader.IsDBNull(0) ? null : JsonSerializer.Deserialize<List<AllowedCommand>>(reader.GetString(0), Json);
        return new CommandSettings(allowlist ?? limits.Defaults, allowlist is null, reader.IsDBNull(1) ? limits.DefaultMaxConcurrent : reader.GetInt32(1),
            reader.GetBoolean(2));
    }

    public async Task SaveSettingsAsync(Guid roomId, Guid userId, CommandSettings settings, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO command_settings (room_id, allowlist, max_concurrent, network, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (room_id) DO UPDATE SET allowlist = $2, max_concurrent = $3, network = $4, updated_by = $5, updated_at = $6
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = roomId });
        command.Parameters.Add(new NpgsqlParameter<string?>
        {
            NpgsqlDbType = NpgsqlDbType.Jsonb,
            TypedValue = settings.UsesDefaults ? null : JsonSerializer.Serialize(settings.Allowlist, Json),
        });
        command.Parameters.Add(new NpgsqlParameter { Value = settings.MaxConcurrent });
        command.Parameters.Add(new NpgsqlParameter { Value = settings.Network });
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        command.Parameters.Add(new NpgsqlParameter { Value = at });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Records a new run unless the room already has <paramref name="maxConcurrent"/> running (under the room's
    /// advisory lock, so two instances cannot both take the last slot). A run whose Api died is not counted once it
    /// is past its timeout with a minute's grace.
    /// </summary>
    public async Task<bool> TryStartAsync(CommandRun run, int maxConcurrent, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockRoom = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('commands:' || $1::text, 0))", connection, transaction))
        {
            lockRoom.Parameters.Add(new NpgsqlParameter { Value = run.RoomId });
            await lockRoom.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var count = new NpgsqlCommand("""
            SELECT count(*) FROM command_runs
            WHERE room_id = $1 AND status = 'running' AND started_at + make_interval(secs => timeout_s + 60) > $2
            """, connection, transaction))
        {
            count.Parameters.Add(new NpgsqlParameter { Value = run.RoomId });
            count.Parameters.Add(new NpgsqlParameter { Value = run.StartedAt });
            if ((long)(await count.ExecuteScalarAsync(cancellationToken))! >= maxConcurrent)
            {
                return false;
            }
        }
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO command_runs (id, room_id, user_id, login, argv, status, timeout_s, started_at) VALUES ($1, $2, $3, $4, $5, 'running', $6, $7)
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = run.Id });
            insert.Parameters.Add(new NpgsqlParameter { Value = run.RoomId });
            insert.Parameters.Add(new NpgsqlParameter { Value = run.UserId });
            insert.Parameters.Add(new NpgsqlParameter { Value = run.Login });
            insert.Parameters.Add(new NpgsqlParameter { Value = run.Argv.ToArray() });
            insert.Parameters.Add(new NpgsqlParameter { Value = run.TimeoutS });
            insert.Parameters.Add(new NpgsqlParameter { Value = run.StartedAt });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task FinishAsync(CommandRun run, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE command_runs SET status = $2, exit_code = $3, finished_at = $4, duration_ms = $5, output_bytes = $6, output_truncated = $7, output_tail = $8
            WHERE id = $1
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = run.Id });
        command.Parameters.Add(new NpgsqlParameter { Value = run.Status });
        command.Parameters.Add(new NpgsqlParameter<int?> { TypedValue = run.ExitCode });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?> { TypedValue = run.FinishedAt });
        command.Parameters.Add(new NpgsqlParameter<long?> { TypedValue = run.DurationMs });
        command.Parameters.Add(new NpgsqlParameter { Value = run.OutputBytes });
        command.Parameters.Add(new NpgsqlParameter { Value = run.OutputTruncated });
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = run.OutputTail });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<CommandRun?> GetAsync(Guid roomId, Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"{Select} WHERE room_id = $1 AND id = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = roomId });
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return (await ReadAsync(command, cancellationToken)).FirstOrDefault();
    }

    public async Task<IReadOnlyList<CommandRun>> ListAsync(Guid roomId, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"{Select} WHERE room_id = $1 ORDER BY started_at DESC LIMIT $2");
        command.Parameters.Add(new NpgsqlParameter { Value = roomId });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        return await ReadAsync(command, cancellationToken);
    }

    private const string Select = """
        SELECT id, room_id, user_id, login, argv, status, exit_code, timeout_s, started_at, finished_at, duration_ms, output_bytes, output_truncated, output_tail
        FROM command_runs
        """;

    private static async Task<IReadOnlyList<CommandRun>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var runs = new List<CommandRun>();
        while (await reader.ReadAsync(cancellationToken))
        {
            runs.Add(new CommandRun(reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3), reader.GetFieldValue<string[]>(4),
                reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetInt32(6), reader.GetInt32(7), reader.GetFieldValue<DateTimeOffset>(8),
                reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9), reader.IsDBNull(10) ? null : reader.GetInt64(10),
                reader.GetInt64(11), reader.GetBoolean(12), reader.IsDBNull(13) ? null : reader.GetString(13)));
        }
        return runs;
    }
}
