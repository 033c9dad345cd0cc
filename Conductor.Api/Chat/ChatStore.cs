using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Conductor.Api.Chat;

/// <summary>Messages and read receipts in Postgres, the only place they live.</summary>
public sealed class ChatStore(NpgsqlDataSource dataSource, TimeProvider timeProvider)
{
    private const string Columns = "id, room_id, seq, user_id, login, kind, content::text, created_at, reply_to";

    /// <summary>
    /// Stores the message with the room's next seq, or, when a message with that id exists, returns the stored one
    /// (<c>Created=false</c>) without using up a seq.
    /// </summary>
    public async Task<(ChatMessage Message, bool Created)> InsertAsync(NewChatMessage message, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            // The upsert locks the room's sequence row until commit, so seq order is commit order. The timestamp is at
            // least 1 µs after the previous one: "since <last timestamp seen>" then misses nothing and repeats nothing.
            await using var command = new NpgsqlCommand("""
                WITH s AS (
                    INSERT INTO chat_room_sequences AS s (room_id, last_seq, last_at) VALUES (@room, 1, @now)
                    ON CONFLICT (room_id) DO UPDATE
                        SET last_seq = s.last_seq + 1, last_at = GREATEST(@now, s.last_at + interval '1 microsecond')
                    RETURNING last_seq, last_at)
                INSERT INTO messages (id, room_id, seq, user_id, login, kind, content, reply_to, created_at)
                SELECT @id, @room, s.last_seq, @user, @login, @kind, @content, @reply_to, s.last_at FROM s
                ON CONFLICT (id) DO NOTHING
                RETURNING seq, created_at
                """, connection, transaction);
            command.Parameters.AddWithValue("room", message.RoomId);
            command.Parameters.AddWithValue("now", timeProvider.GetUtcNow().UtcDateTime);
            command.Parameters.AddWithValue("id", message.Id);
            command.Parameters.AddWithValue("user", NpgsqlDbType.Uuid, (object?)message.UserId ?? DBNull.Value);
            command.Parameters.AddWithValue("login", message.Login);
            command.Parameters.AddWithValue("kind", message.Kind);
            command.Parameters.AddWithValue("content", NpgsqlDbType.Jsonb, message.ContentJson);
            command.Parameters.AddWithValue("reply_to", NpgsqlDbType.Uuid, (object?)message.ReplyTo ?? DBNull.Value);
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken))
                {
                    var seq = reader.GetInt64(0);
                    var createdAt = reader.GetDateTime(1);
                    await reader.DisposeAsync();
                    await transaction.CommitAsync(cancellationToken);
                    using var content = JsonDocument.Parse(message.ContentJson);
                    return (new ChatMessage(message.Id, message.RoomId, seq, message.UserId, message.Login, message.Kind,
                        content.RootElement.Clone(), createdAt, message.ReplyTo), true);
                }
            }
            // The id exists: give the seq back (no gap) and answer with what is stored.
            await transaction.RollbackAsync(cancellationToken);
        }
        var existing = await GetAsync(message.Id, cancellationToken)
            ?? throw new InvalidOperationException($"Message {message.Id} conflicted on insert but cannot be read.");
        return (existing, false);
    }

    // One message of a batch. The sequence moves only when no message has the id yet, so a resend uses up no seq; the
    // row says whether the sequence moved and what was stored (nothing for a known id).
    private const string BatchInsert = """
        WITH s AS (
            INSERT INTO chat_room_sequences AS s (room_id, last_seq, last_at)
            SELECT $1, 1, $2 WHERE NOT EXISTS (SELECT 1 FROM messages WHERE id = $3)
            ON CONFLICT (room_id) DO UPDATE
                SET last_seq = s.last_seq + 1, last_at = GREATEST($2, s.last_at + interval '1 microsecond')
            RETURNING last_seq, last_at),
        m AS (
            INSERT INTO messages (id, room_id, seq, user_id, login, kind, content, reply_to, created_at)
            SELECT $3, $1, s.last_seq, $4, $5, $6, $7, $8, s.last_at FROM s
            ON CONFLICT (id) DO NOTHING
            RETURNING seq, created_at)
        SELECT (SELECT count(*) FROM s), (SELECT seq FROM m), (SELECT created_at FROM m)
        """;

    /// <summary>
    /// Group commit: stores many messages (of any rooms) in one transaction and two round trips, each with its room's
    /// next seq, in the order given within a room. Answers per message, in the order given, the stored message and
    /// whether this call created it (a known id answers with the stored one). Null when a first send of the same id
    /// committed elsewhere while this batch ran (it would leave a hole in the seqs): nothing was stored, and the
    /// caller stores the messages one at a time with <see cref="InsertAsync"/>.
    /// </summary>
    public async Task<IReadOnlyList<(ChatMessage Message, bool Created)>?> InsertBatchAsync(IReadOnlyList<NewChatMessage> messages,
        CancellationToken cancellationToken)
    {
        // Rooms' sequence rows are locked in one order (by room id) in every batch, so two instances' batches cannot deadlock.
        var order = Enumerable.Range(0, messages.Count).OrderBy(i => messages[i].RoomId).ToArray();
        var now = timeProvider.GetUtcNow().UtcDateTime;
        var stored = new (long Seq, DateTime At)?[messages.Count];
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            await using var batch = new NpgsqlBatch(connection, transaction);
            foreach (var i in order)
            {
                var message = messages[i];
                var command = new NpgsqlBatchCommand(BatchInsert);
                command.Parameters.Add(new NpgsqlParameter { Value = message.RoomId });
                command.Parameters.Add(new NpgsqlParameter { Value = now });
                command.Parameters.Add(new NpgsqlParameter { Value = message.Id });
                command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = (object?)message.UserId ?? DBNull.Value });
                command.Parameters.Add(new NpgsqlParameter { Value = message.Login });
                command.Parameters.Add(new NpgsqlParameter { Value = message.Kind });
                command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = message.ContentJson });
                command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = (object?)message.ReplyTo ?? DBNull.Value });
                batch.BatchCommands.Add(command);
            }
            var holeLeft = false;
            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
            {
                foreach (var i in order)
                {
                    await reader.ReadAsync(cancellationToken);
                    if (!reader.IsDBNull(1))
                    {
                        stored[i] = (reader.GetInt64(1), reader.GetDateTime(2));
                    }
                    else if (reader.GetInt64(0) > 0)
                    {
                        holeLeft = true;
                    }
                    await reader.NextResultAsync(cancellationToken);
                }
            }
            if (holeLeft)
            {
                await transaction.RollbackAsync(cancellationToken);
                return null;
            }
            await transaction.CommitAsync(cancellationToken);
        }
        var results = new (ChatMessage Message, bool Created)[messages.Count];
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            if (stored[i] is var (seq, at))
            {
                using var content = JsonDocument.Parse(message.ContentJson);
                results[i] = (new ChatMessage(message.Id, message.RoomId, seq, message.UserId, message.Login, message.Kind,
                    content.RootElement.Clone(), at, message.ReplyTo), true);
            }
            else
            {
                results[i] = (await GetAsync(message.Id, cancellationToken)
                    ?? throw new InvalidOperationException($"Message {message.Id} exists but cannot be read."), false);
            }
        }
        return results;
    }

    public async Task<ChatMessage?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM messages WHERE id = @id");
        command.Parameters.AddWithValue("id", id);
        var found = await ReadAsync(command, cancellationToken);
        return found.Count == 0 ? null : found[0];
    }

    /// <summary>Up to <paramref name="limit"/> messages after <paramref name="since"/>, oldest first.</summary>
    public async Task<IReadOnlyList<ChatMessage>> GetSinceAsync(Guid roomId, DateTime since, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM messages WHERE room_id = @room AND created_at > @since ORDER BY seq LIMIT @limit
            """);
        command.Parameters.AddWithValue("room", roomId);
        command.Parameters.AddWithValue("since", since);
        command.Parameters.AddWithValue("limit", limit);
        return await ReadAsync(command, cancellationToken);
    }

    /// <summary>The latest <paramref name="limit"/> messages (before <paramref name="beforeSeq"/> when given), oldest first.</summary>
    public async Task<IReadOnlyList<ChatMessage>> GetLatestAsync(Guid roomId, long? beforeSeq, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT * FROM (
                SELECT {Columns} FROM messages WHERE room_id = @room AND seq < @before ORDER BY seq DESC LIMIT @limit
            ) latest ORDER BY seq
            """);
        command.Parameters.AddWithValue("room", roomId);
        command.Parameters.AddWithValue("before", beforeSeq ?? long.MaxValue);
        command.Parameters.AddWithValue("limit", limit);
        return await ReadAsync(command, cancellationToken);
    }

    /// <summary>Messages with seq in [<paramref name="from"/>, <paramref name="to"/>]: how an instance fills a gap in what Redis brought it.</summary>
    public async Task<IReadOnlyList<ChatMessage>> GetRangeAsync(Guid roomId, long from, long to, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM messages WHERE room_id = @room AND seq BETWEEN @from AND @to ORDER BY seq
            """);
        command.Parameters.AddWithValue("room", roomId);
        command.Parameters.AddWithValue("from", from);
        command.Parameters.AddWithValue("to", to);
        return await ReadAsync(command, cancellationToken);
    }

    /// <summary>The room's last seq (0 when it has no message yet).</summary>
    public async Task<long> GetLastSeqAsync(Guid roomId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT last_seq FROM chat_room_sequences WHERE room_id = @room");
        command.Parameters.AddWithValue("room", roomId);
        return await command.ExecuteScalarAsync(cancellationToken) is long seq ? seq : 0;
    }

    /// <summary>Moves the user's read marker forward to the message; null when the message is not in the room.</summary>
    public async Task<(ReadReceipt Receipt, bool Advanced)?> MarkReadAsync(Guid roomId, Guid userId, Guid messageId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH m AS (SELECT id, seq FROM messages WHERE id = @message AND room_id = @room),
            upserted AS (
                INSERT INTO chat_read_receipts AS r (room_id, user_id, message_id, seq, read_at)
                SELECT @room, @user, m.id, m.seq, @now FROM m
                ON CONFLICT (room_id, user_id) DO UPDATE
                    SET message_id = excluded.message_id, seq = excluded.seq, read_at = excluded.read_at
                    WHERE r.seq < excluded.seq
                RETURNING read_at)
            SELECT (SELECT count(*) FROM m), (SELECT read_at FROM upserted)
            """);
        command.Parameters.AddWithValue("room", roomId);
        command.Parameters.AddWithValue("user", userId);
        command.Parameters.AddWithValue("message", messageId);
        command.Parameters.AddWithValue("now", timeProvider.GetUtcNow().UtcDateTime);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        if (reader.GetInt64(0) == 0)
        {
            return null;
        }
        var advanced = !reader.IsDBNull(1);
        var readAt = advanced ? reader.GetDateTime(1) : timeProvider.GetUtcNow().UtcDateTime;
        return (new ReadReceipt(roomId, userId, messageId, readAt), advanced);
    }

    public async Task<IReadOnlyList<ReadReceipt>> GetReadReceiptsAsync(Guid roomId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT user_id, message_id, read_at FROM chat_read_receipts WHERE room_id = @room ORDER BY seq, user_id");
        command.Parameters.AddWithValue("room", roomId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var receipts = new List<ReadReceipt>();
        while (await reader.ReadAsync(cancellationToken))
        {
            receipts.Add(new ReadReceipt(roomId, reader.GetGuid(0), reader.GetGuid(1), reader.GetDateTime(2)));
        }
        return receipts;
    }

    private static async Task<IReadOnlyList<ChatMessage>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var messages = new List<ChatMessage>();
        while (await reader.ReadAsync(cancellationToken))
        {
            using var content = JsonDocument.Parse(reader.GetString(6));
            messages.Add(new ChatMessage(
                reader.GetGuid(0), reader.GetGuid(1), reader.GetInt64(2),
                reader.IsDBNull(3) ? null : reader.GetGuid(3),
                reader.GetString(4), reader.GetString(5), content.RootElement.Clone(),
                DateTime.SpecifyKind(reader.GetDateTime(7), DateTimeKind.Utc),
                reader.IsDBNull(8) ? null : reader.GetGuid(8)));
        }
        return messages;
    }
}
