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

    // A whole batch in one statement, committed on its own (autocommit: one round trip, one WAL flush). Per room, the
    // sequence row is bumped once by the number of new messages (locking it until the statement commits, so seq order
    // is commit order), rooms in one order (by id) so two instances' batches cannot deadlock; each new message takes
    // its room's next seq and a timestamp at least 1 µs after the previous one, in the order given. Ids already stored
    // use up no seq and come back as stored. An id first sent concurrently elsewhere (not visible to this statement's
    // snapshot) makes the plain INSERT fail with a unique violation on messages_pkey, which rolls the whole statement
    // back, sequence bumps included: no hole is ever committed.
    // Known ids are looked up one by one through the primary key (LATERAL ... LIMIT 1), never as "id = ANY($1)": the
    // statement is prepared, and Postgres keeps the generic plan it chose when the table was small; for "= ANY" that
    // is a sequential scan, which then reads every message of every room for every batch as the table grows (the chat
    // bench's closed loop fell from ~6,700 to ~2,200 messages/s within a minute of a fresh database).
    // ChatStoreTests checks the generic plan.
    internal const string BatchInsert = $"""
        WITH input AS (
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::jsonb[], $7::uuid[])
                WITH ORDINALITY AS t(id, room_id, user_id, login, kind, content, reply_to, ord)),
        known AS (
            SELECT m.* FROM input i CROSS JOIN LATERAL (SELECT {Columns} FROM messages WHERE messages.id = i.id LIMIT 1) m),
        fresh AS (
            SELECT i.*, row_number() OVER (PARTITION BY i.room_id ORDER BY i.ord) AS k, count(*) OVER (PARTITION BY i.room_id) AS n
            FROM input i WHERE NOT EXISTS (SELECT 1 FROM known WHERE known.id = i.id)),
        s AS (
            INSERT INTO chat_room_sequences AS s (room_id, last_seq, last_at)
            SELECT room_id, count(*), $8 + (count(*) - 1) * interval '1 microsecond' FROM fresh GROUP BY room_id ORDER BY room_id
            ON CONFLICT (room_id) DO UPDATE
                SET last_seq = s.last_seq + excluded.last_seq,
                    last_at = GREATEST(excluded.last_at, s.last_at + excluded.last_seq * interval '1 microsecond')
            RETURNING room_id, last_seq, last_at),
        m AS (
            INSERT INTO messages (id, room_id, seq, user_id, login, kind, content, reply_to, created_at)
            SELECT f.id, f.room_id, s.last_seq - f.n + f.k, f.user_id, f.login, f.kind, f.content, f.reply_to,
                   s.last_at - (f.n - f.k) * interval '1 microsecond'
            FROM fresh f JOIN s USING (room_id)
            RETURNING id, seq, created_at)
        SELECT true, id, NULL::uuid, seq, NULL::uuid, NULL::text, NULL::text, NULL::text, created_at, NULL::uuid FROM m
        UNION ALL
        SELECT false, {Columns} FROM known
        """;

    /// <summary>
    /// Group commit: stores many messages (of any rooms) in one statement and one round trip, each with its room's
    /// next seq, in the order given within a room. Answers per message, in the order given, the stored message and
    /// whether this call created it (a known id, or one given twice, answers with the stored one). Throws a
    /// <see cref="PostgresException"/> when anything in the batch fails (a first send of one of its ids committed
    /// elsewhere meanwhile, a deleted room): nothing was stored, and the caller stores the messages one at a time with
    /// <see cref="InsertAsync"/>.
    /// </summary>
    public async Task<IReadOnlyList<(ChatMessage Message, bool Created)>> InsertBatchAsync(IReadOnlyList<NewChatMessage> messages,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await InsertBatchAsync(connection, messages, cancellationToken);
    }

    /// <summary>Opens a connection of its own for a caller that stores batch after batch (<see cref="ChatMessageWriter"/>).</summary>
    public ValueTask<NpgsqlConnection> OpenConnectionAsync(CancellationToken cancellationToken) => dataSource.OpenConnectionAsync(cancellationToken);

    /// <summary>
    /// <see cref="InsertBatchAsync(IReadOnlyList{NewChatMessage}, CancellationToken)"/> on a connection the caller keeps
    /// open between batches: no pool rent and return (with its session reset) per batch, and one backend, whose
    /// prepared statement stays warm.
    /// </summary>
    public async Task<IReadOnlyList<(ChatMessage Message, bool Created)>> InsertBatchAsync(NpgsqlConnection connection,
        IReadOnlyList<NewChatMessage> messages, CancellationToken cancellationToken)
    {
        // An id given twice is sent once; the second answers with whatever the first stored (Created=false).
        var unique = new List<NewChatMessage>(messages.Count);
        var seen = new HashSet<Guid>(messages.Count);
        foreach (var message in messages)
        {
            if (seen.Add(message.Id))
            {
                unique.Add(message);
            }
        }
        await using var command = new NpgsqlCommand(BatchInsert, connection);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. unique.Select(m => m.Id)] });
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. unique.Select(m => m.RoomId)] });
        command.Parameters.Add(new NpgsqlParameter<Guid?[]> { TypedValue = [.. unique.Select(m => m.UserId)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. unique.Select(m => m.Login)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. unique.Select(m => m.Kind)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb, TypedValue = [.. unique.Select(m => m.ContentJson)] });
        command.Parameters.Add(new NpgsqlParameter<Guid?[]> { TypedValue = [.. unique.Select(m => m.ReplyTo)] });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = timeProvider.GetUtcNow().UtcDateTime });
        // Prepared once per connection (a no-op after that): Postgres then skips parsing and planning this statement for
        // every batch.
        await command.PrepareAsync(cancellationToken);
        var created = new Dictionary<Guid, (long Seq, DateTime At)>(unique.Count);
        var known = new Dictionary<Guid, ChatMessage>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                if (reader.GetBoolean(0))
                {
                    created[reader.GetGuid(1)] = (reader.GetInt64(3), DateTime.SpecifyKind(reader.GetDateTime(8), DateTimeKind.Utc));
                }
                else
                {
                    var message = ReadMessage(reader, 1);
                    known[message.Id] = message;
                }
            }
        }
        var results = new (ChatMessage Message, bool Created)[messages.Count];
        var answered = new HashSet<Guid>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            if (answered.Add(message.Id) && created.TryGetValue(message.Id, out var stored))
            {
                using var content = JsonDocument.Parse(message.ContentJson);
                var storedMessage = new ChatMessage(message.Id, message.RoomId, stored.Seq, message.UserId, message.Login, message.Kind,
                    content.RootElement.Clone(), stored.At, message.ReplyTo);
                known[message.Id] = storedMessage;
                results[i] = (storedMessage, true);
            }
            else
            {
                results[i] = (known.GetValueOrDefault(message.Id)
                    ?? throw new InvalidOperationException($"Message {message.Id} was neither stored nor found."), false);
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
            messages.Add(ReadMessage(reader, 0));
        }
        return messages;
    }

    /// <summary>A message from <see cref="Columns"/>, starting at column <paramref name="first"/>.</summary>
    private static ChatMessage ReadMessage(NpgsqlDataReader reader, int first)
    {
        using var content = JsonDocument.Parse(reader.GetString(first + 6));
        return new ChatMessage(
            reader.GetGuid(first), reader.GetGuid(first + 1), reader.GetInt64(first + 2),
            reader.IsDBNull(first + 3) ? null : reader.GetGuid(first + 3),
            reader.GetString(first + 4), reader.GetString(first + 5), content.RootElement.Clone(),
            DateTime.SpecifyKind(reader.GetDateTime(first + 7), DateTimeKind.Utc),
            reader.IsDBNull(first + 8) ? null : reader.GetGuid(first + 8));
    }
}
