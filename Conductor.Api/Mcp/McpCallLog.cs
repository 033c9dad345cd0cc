using Npgsql;

namespace Conductor.Api.Mcp;

/// <summary>The append-only record of every MCP tool call (table <c>mcp_calls</c>, migration 0041).</summary>
public sealed class McpCallLog(NpgsqlDataSource dataSource, TimeProvider time)
{
    public async Task AppendAsync(Guid userId, string tool, Guid? roomId, string outcome, string? detail, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "INSERT INTO mcp_calls (user_id, tool, room_id, outcome, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)");
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        command.Parameters.Add(new NpgsqlParameter { Value = tool });
        command.Parameters.Add(new NpgsqlParameter<Guid?> { TypedValue = roomId });
        command.Parameters.Add(new NpgsqlParameter { Value = outcome });
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = detail is { Length: > 500 } ? detail[..500] : detail });
        command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<McpCall>> ForUserAsync(Guid userId, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT user_id, tool, room_id, outcome, detail, created_at FROM mcp_calls WHERE user_id = $1 ORDER BY seq LIMIT $2");
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var calls = new List<McpCall>();
        while (await reader.ReadAsync(cancellationToken))
        {
            calls.Add(new McpCall(reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetGuid(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5)));
        }
        return calls;
    }
}
