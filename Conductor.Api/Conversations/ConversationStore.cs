using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Conductor.Api.Conversations;

/// <summary>Conversations and their turns in Postgres (migration 0040_conversations.sql).</summary>
public sealed class ConversationStore(NpgsqlDataSource dataSource)
{
    private static readonly JsonSerializerOptions BotJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private const string SelectConversation = """
        SELECT id, room_id, created_by, topic, bots, max_turns, turns_done, status, error, created_at, updated_at, ended_at FROM conversations
        """;

    /// <summary>Stores a new running conversation already claimed by <paramref name="runner"/>.</summary>
    public async Task InsertAsync(ConversationRecord conversation, string runner, DateTimeOffset leaseUntil, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO conversations (id, room_id, created_by, topic, bots, max_turns, turns_done, status, runner, lease_until, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, 0, 'running', $7, $8, $9, $9)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = conversation.Id });
        command.Parameters.Add(new NpgsqlParameter { Value = conversation.RoomId });
        command.Parameters.Add(new NpgsqlParameter { Value = conversation.CreatedBy });
        command.Parameters.Add(new NpgsqlParameter { Value = conversation.Topic });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(conversation.Bots, BotJson), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = conversation.MaxTurns });
        command.Parameters.Add(new NpgsqlParameter { Value = runner });
        command.Parameters.Add(new NpgsqlParameter { Value = leaseUntil });
        command.Parameters.Add(new NpgsqlParameter { Value = conversation.CreatedAt });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>How many conversations the user started since <paramref name="since"/> (the per-user start limit).</summary>
    public async Task<long> CountStartsAsync(Guid userId, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM conversations WHERE created_by = $1 AND created_at > $2");
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        command.Parameters.Add(new NpgsqlParameter { Value = since });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<ConversationRecord?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"{SelectConversation} WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>The room's conversations, newest first.</summary>
    public async Task<IReadOnlyList<ConversationRecord>> ListAsync(Guid roomId, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"{SelectConversation} WHERE room_id = $1 ORDER BY created_at DESC, id LIMIT $2");
        command.Parameters.Add(new NpgsqlParameter { Value = roomId });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<ConversationRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(Read(reader));
        }
        return list;
    }

    public async Task<IReadOnlyList<ConversationTurn>> GetTurnsAsync(Guid id, int fromTurn, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT turn, bot_index, bot_name, provider, model, content, created_at, attempt FROM conversation_turns
            WHERE conversation_id = $1 AND turn >= $2 ORDER BY turn
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = fromTurn });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var turns = new List<ConversationTurn>();
        while (await reader.ReadAsync(cancellationToken))
        {
            turns.Add(new ConversationTurn(reader.GetInt32(0), reader.GetInt32(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetString(5), reader.GetFieldValue<DateTimeOffset>(6), reader.GetString(7)));
        }
        return turns;
    }

    /// <summary>Replaces one bot while the conversation runs; false when it has ended (or does not exist).</summary>
    public async Task<bool> UpdateBotAsync(Guid id, int index, ConversationBot bot, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE conversations SET bots = jsonb_set(bots, ARRAY[$2::text], $3), updated_at = $4
            WHERE id = $1 AND status = 'running' AND $2 < jsonb_array_length(bots)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = index });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(bot, BotJson), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>
    /// Stores a complete turn and counts it, in one transaction, only if the conversation is still running, still
    /// claimed by <paramref name="runner"/> and at that turn: a stopped conversation or a lost claim stores nothing.
    /// The last allowed turn also completes the conversation.
    /// </summary>
    public async Task<bool> AppendTurnAsync(Guid id, string runner, ConversationTurn turn, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var update = new NpgsqlCommand("""
            UPDATE conversations SET turns_done = turns_done + 1, updated_at = $4,
                status = CASE WHEN turns_done + 1 >= max_turns THEN 'completed' ELSE status END,
                ended_at = CASE WHEN turns_done + 1 >= max_turns THEN $4 ELSE ended_at END,
                runner = CASE WHEN turns_done + 1 >= max_turns THEN NULL ELSE runner END,
                lease_until = CASE WHEN turns_done + 1 >= max_turns THEN NULL ELSE lease_until END
            WHERE id = $1 AND status = 'running' AND runner = $2 AND turns_done = $3
            """, connection, transaction))
        {
            update.Parameters.Add(new NpgsqlParameter { Value = id });
            update.Parameters.Add(new NpgsqlParameter { Value = runner });
            update.Parameters.Add(new NpgsqlParameter { Value = turn.Turn });
            update.Parameters.Add(new NpgsqlParameter { Value = turn.CreatedAt });
            if (await update.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                return false;
            }
        }
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO conversation_turns (conversation_id, turn, bot_index, bot_name, provider, model, content, created_at, attempt)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = id });
            insert.Parameters.Add(new NpgsqlParameter { Value = turn.Turn });
            insert.Parameters.Add(new NpgsqlParameter { Value = turn.BotIndex });
            insert.Parameters.Add(new NpgsqlParameter { Value = turn.BotName });
            insert.Parameters.Add(new NpgsqlParameter { Value = turn.Provider });
            insert.Parameters.Add(new NpgsqlParameter { Value = turn.Model });
            insert.Parameters.Add(new NpgsqlParameter { Value = turn.Content });
            insert.Parameters.Add(new NpgsqlParameter { Value = turn.CreatedAt });
            insert.Parameters.Add(new NpgsqlParameter { Value = turn.Attempt });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Ends a running conversation (stopped, completed or failed); false when it had already ended.</summary>
    public async Task<bool> EndAsync(Guid id, string status, string? error, DateTimeOffset now, CancellationToken cancellationToken, string? runner = null)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE conversations SET status = $2, error = $3, ended_at = $4, updated_at = $4, runner = NULL, lease_until = NULL
            WHERE id = $1 AND status = 'running' AND ($5::text IS NULL OR runner = $5)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = status });
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = error });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = runner });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Extends this runner's claims; returns the ids it still holds (a stopped conversation drops out).</summary>
    public async Task<IReadOnlyList<Guid>> RenewAsync(string runner, IReadOnlyCollection<Guid> ids, DateTimeOffset leaseUntil, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE conversations SET lease_until = $3 WHERE id = ANY($2) AND runner = $1 AND status = 'running' RETURNING id
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = runner });
        command.Parameters.Add(new NpgsqlParameter { Value = ids.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = leaseUntil });
        return await ReadIdsAsync(command, cancellationToken);
    }

    /// <summary>Claims running conversations whose runner's claim expired (its instance died or shut down).</summary>
    public async Task<IReadOnlyList<Guid>> ClaimOrphansAsync(string runner, DateTimeOffset now, DateTimeOffset leaseUntil, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE conversations SET runner = $1, lease_until = $3
            WHERE id IN (SELECT id FROM conversations WHERE status = 'running' AND (lease_until IS NULL OR lease_until < $2)
                         ORDER BY lease_until NULLS FIRST LIMIT 20 FOR UPDATE SKIP LOCKED)
            RETURNING id
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = runner });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = leaseUntil });
        return await ReadIdsAsync(command, cancellationToken);
    }

    /// <summary>Gives up this runner's claim at once (a graceful shutdown), so the next instance resumes without waiting.</summary>
    public async Task ReleaseAsync(string runner, Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE conversations SET runner = NULL, lease_until = NULL WHERE id = $1 AND runner = $2 AND status = 'running'");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = runner });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<IReadOnlyList<Guid>> ReadIdsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var ids = new List<Guid>();
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetGuid(0));
        }
        return ids;
    }

    private static ConversationRecord Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3),
        JsonSerializer.Deserialize<List<ConversationBot>>(reader.GetString(4), BotJson)!, reader.GetInt32(5), reader.GetInt32(6),
        reader.GetString(7), reader.IsDBNull(8) ? null : reader.GetString(8), reader.GetFieldValue<DateTimeOffset>(9),
        reader.GetFieldValue<DateTimeOffset>(10), reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11));
}
