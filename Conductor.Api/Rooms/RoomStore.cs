using Npgsql;

namespace Conductor.Api.Rooms;

/// <summary>
/// Rooms, members and invites in Postgres. Every change locks the room's row first, so changes to one room happen
/// one at a time and each re-checks, under the lock, what the endpoint checked before it.
/// </summary>
public sealed class RoomStore(NpgsqlDataSource dataSource, TimeProvider timeProvider)
{
    public const int MaxRoomsListed = 500;

    public async Task<RoomRecord> CreateAsync(Guid hostUserId, string name, CancellationToken cancellationToken)
    {
        var now = Now();
        var room = new RoomRecord(Guid.CreateVersion7(now), name, hostUserId, now, null);
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(Command("INSERT INTO rooms (id, name, host_user_id, created_at) VALUES ($1, $2, $3, $4)", room.Id, name, hostUserId, now));
        batch.BatchCommands.Add(Command("INSERT INTO room_members (room_id, user_id, role, joined_at) VALUES ($1, $2, 'host', $3)", room.Id, hostUserId, now));
        // A batch runs in one implicit transaction: no room without its host.
        await batch.ExecuteNonQueryAsync(cancellationToken);
        return room;
    }

    public async Task<IReadOnlyList<MyRoomRecord>> ListForUserAsync(Guid userId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT r.id, r.name, r.host_user_id, r.created_at, r.ended_at, m.role
            FROM room_members m JOIN rooms r ON r.id = m.room_id
            WHERE m.user_id = $1
            ORDER BY r.created_at DESC
            LIMIT {MaxRoomsListed}
            """);
        command.Parameters.AddWithValue(userId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rooms = new List<MyRoomRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rooms.Add(new MyRoomRecord(ReadRoom(reader), ParseRole(reader.GetString(5))));
        }
        return rooms;
    }

    public async Task<RoomRecord?> GetAsync(Guid roomId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id, name, host_user_id, created_at, ended_at FROM rooms WHERE id = $1");
        command.Parameters.AddWithValue(roomId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadRoom(reader) : null;
    }

    public async Task<IReadOnlyList<RoomMemberRecord>> GetMembersAsync(Guid roomId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT m.user_id, u.login, m.role, m.joined_at
            FROM room_members m JOIN users u ON u.id = m.user_id
            WHERE m.room_id = $1
            ORDER BY m.joined_at, u.login
            """);
        command.Parameters.AddWithValue(roomId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var members = new List<RoomMemberRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            members.Add(new RoomMemberRecord(reader.GetGuid(0), reader.GetString(1), ParseRole(reader.GetString(2)), reader.GetFieldValue<DateTimeOffset>(3)));
        }
        return members;
    }

    public async Task<RoomRole?> GetRoleAsync(Guid roomId, Guid userId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT role FROM room_members WHERE room_id = $1 AND user_id = $2");
        command.Parameters.AddWithValue(roomId);
        command.Parameters.AddWithValue(userId);
        return await command.ExecuteScalarAsync(cancellationToken) is string role ? ParseRole(role) : null;
    }

    /// <summary>Whether the room has ended and who its members are, in one query; null when there is no such room.</summary>
    public async Task<RoomState?> GetStateAsync(Guid roomId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT r.ended_at IS NOT NULL, m.user_id, m.role
            FROM rooms r LEFT JOIN room_members m ON m.room_id = r.id
            WHERE r.id = $1
            """);
        command.Parameters.AddWithValue(roomId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        RoomState? state = null;
        var members = new Dictionary<Guid, RoomRole>();
        while (await reader.ReadAsync(cancellationToken))
        {
            state ??= new RoomState(reader.GetBoolean(0), members);
            if (!reader.IsDBNull(1))
            {
                members[reader.GetGuid(1)] = ParseRole(reader.GetString(2));
            }
        }
        return state;
    }

    public async Task<bool> IsEndedAsync(Guid roomId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT ended_at IS NOT NULL FROM rooms WHERE id = $1");
        command.Parameters.AddWithValue(roomId);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    public Task<RoomChangeError> TransferHostAsync(Guid roomId, Guid callerId, Guid newHostId, CancellationToken cancellationToken) =>
        ChangeAsync(roomId, async (connection, transaction, room) =>
        {
            if (room.HostUserId != callerId)
            {
                return RoomChangeError.NotHost;
            }
            if (newHostId == callerId)
            {
                return RoomChangeError.TargetIsSelf;
            }
            if (await RoleInAsync(connection, transaction, roomId, newHostId, cancellationToken) is null)
            {
                return RoomChangeError.NotAMember;
            }
            // Demote first: the one-host-per-room index is checked statement by statement.
            await ExecuteAsync(connection, transaction,
                "UPDATE room_members SET role = 'guest' WHERE room_id = $1 AND user_id = $2", [roomId, callerId], cancellationToken);
            await ExecuteAsync(connection, transaction,
                "UPDATE room_members SET role = 'host' WHERE room_id = $1 AND user_id = $2", [roomId, newHostId], cancellationToken);
            await ExecuteAsync(connection, transaction,
                "UPDATE rooms SET host_user_id = $2 WHERE id = $1", [roomId, newHostId], cancellationToken);
            return RoomChangeError.None;
        }, cancellationToken);

    /// <summary>The host removes someone, or a guest leaves (caller == member). Removals are remembered.</summary>
    public Task<RoomChangeError> RemoveMemberAsync(Guid roomId, Guid callerId, Guid memberId, CancellationToken cancellationToken) =>
        ChangeAsync(roomId, async (connection, transaction, room) =>
        {
            var leaving = callerId == memberId;
            if (!leaving && room.HostUserId != callerId)
            {
                return RoomChangeError.NotHost;
            }
            if (leaving && room.HostUserId == callerId)
            {
                return RoomChangeError.HostCannotLeave;
            }
            if (await RoleInAsync(connection, transaction, roomId, memberId, cancellationToken) is null)
            {
                return RoomChangeError.NotAMember;
            }
            await ExecuteAsync(connection, transaction,
                "DELETE FROM room_members WHERE room_id = $1 AND user_id = $2", [roomId, memberId], cancellationToken);
            if (!leaving)
            {
                await ExecuteAsync(connection, transaction, """
                    INSERT INTO room_removals (room_id, user_id, removed_by, removed_at) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (room_id, user_id) DO UPDATE SET removed_by = EXCLUDED.removed_by, removed_at = EXCLUDED.removed_at
                    """, [roomId, memberId, callerId, timeProvider.GetUtcNow()], cancellationToken);
            }
            return RoomChangeError.None;
        }, cancellationToken);

    public async Task<(DateTimeOffset? EndedAt, RoomChangeError Error)> EndAsync(Guid roomId, Guid callerId, CancellationToken cancellationToken)
    {
        var now = Now();
        var error = await ChangeAsync(roomId, async (connection, transaction, room) =>
        {
            if (room.HostUserId != callerId)
            {
                return RoomChangeError.NotHost;
            }
            await ExecuteAsync(connection, transaction, "UPDATE rooms SET ended_at = $2 WHERE id = $1", [roomId, now], cancellationToken);
            return RoomChangeError.None;
        }, cancellationToken);
        return (error == RoomChangeError.None ? now : null, error);
    }

    public async Task<(Guid InviteId, RoomChangeError Error)> CreateInviteAsync(Guid roomId, Guid callerId, DateTimeOffset expiresAt, bool singleUse,
        CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var inviteId = Guid.CreateVersion7(now);
        var error = await ChangeAsync(roomId, async (connection, transaction, room) =>
        {
            if (room.HostUserId != callerId)
            {
                return RoomChangeError.NotHost;
            }
            await ExecuteAsync(connection, transaction, """
                INSERT INTO room_invites (id, room_id, created_by, created_at, expires_at, single_use) VALUES ($1, $2, $3, $4, $5, $6)
                """, [inviteId, roomId, callerId, now, expiresAt, singleUse], cancellationToken);
            return RoomChangeError.None;
        }, cancellationToken);
        return (inviteId, error);
    }

    /// <summary>
    /// Joins through an invite whose signature the caller already verified. A member joining again keeps their role;
    /// a single-use invite is spent only by someone it actually admits.
    /// </summary>
    public async Task<(RoomRole? Role, bool Joined, RoomChangeError Error)> JoinAsync(Guid roomId, Guid inviteId, Guid userId, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        RoomRole? role = null;
        var joined = false;
        var error = await ChangeAsync(roomId, async (connection, transaction, room) =>
        {
            if (await RoleInAsync(connection, transaction, roomId, userId, cancellationToken) is { } existing)
            {
                role = existing;
                return RoomChangeError.None;
            }
            DateTimeOffset createdAt, expiresAt;
            bool singleUse, used;
            await using (var invite = new NpgsqlCommand(
                "SELECT created_at, expires_at, single_use, used_at IS NOT NULL FROM room_invites WHERE id = $1 AND room_id = $2 FOR UPDATE",
                connection, transaction))
            {
                invite.Parameters.AddWithValue(inviteId);
                invite.Parameters.AddWithValue(roomId);
                await using var reader = await invite.ExecuteReaderAsync(cancellationToken);
                if (!await reader.ReadAsync(cancellationToken))
                {
                    return RoomChangeError.InviteUnknown;
                }
                (createdAt, expiresAt, singleUse, used) = (reader.GetFieldValue<DateTimeOffset>(0), reader.GetFieldValue<DateTimeOffset>(1),
                    reader.GetBoolean(2), reader.GetBoolean(3));
            }
            if (expiresAt <= now)
            {
                return RoomChangeError.InviteExpired;
            }
            if (singleUse && used)
            {
                return RoomChangeError.InviteUsed;
            }
            await using (var removal = new NpgsqlCommand(
                "SELECT 1 FROM room_removals WHERE room_id = $1 AND user_id = $2 AND removed_at >= $3", connection, transaction))
            {
                removal.Parameters.AddWithValue(roomId);
                removal.Parameters.AddWithValue(userId);
                removal.Parameters.AddWithValue(createdAt);
                if (await removal.ExecuteScalarAsync(cancellationToken) is not null)
                {
                    return RoomChangeError.RemovedFromRoom;
                }
            }
            await ExecuteAsync(connection, transaction,
                "INSERT INTO room_members (room_id, user_id, role, joined_at) VALUES ($1, $2, 'guest', $3)", [roomId, userId, now], cancellationToken);
            if (singleUse)
            {
                await ExecuteAsync(connection, transaction,
                    "UPDATE room_invites SET used_at = $2, used_by = $3 WHERE id = $1", [inviteId, now, userId], cancellationToken);
            }
            role = RoomRole.Guest;
            joined = true;
            return RoomChangeError.None;
        }, cancellationToken);
        return (role, joined, error);
    }

    /// <summary>Runs <paramref name="change"/> in a transaction holding the room's row lock; refuses ended rooms.</summary>
    private async Task<RoomChangeError> ChangeAsync(Guid roomId,
        Func<NpgsqlConnection, NpgsqlTransaction, RoomRecord, Task<RoomChangeError>> change, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        RoomRecord room;
        await using (var select = new NpgsqlCommand(
            "SELECT id, name, host_user_id, created_at, ended_at FROM rooms WHERE id = $1 FOR UPDATE", connection, transaction))
        {
            select.Parameters.AddWithValue(roomId);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return RoomChangeError.NoSuchRoom;
            }
            room = ReadRoom(reader);
        }
        if (room.EndedAt is not null)
        {
            return RoomChangeError.Ended;
        }
        var error = await change(connection, transaction, room);
        if (error == RoomChangeError.None)
        {
            await transaction.CommitAsync(cancellationToken);
        }
        return error;
    }

    private static async Task<RoomRole?> RoleInAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid roomId, Guid userId,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT role FROM room_members WHERE room_id = $1 AND user_id = $2", connection, transaction);
        command.Parameters.AddWithValue(roomId);
        command.Parameters.AddWithValue(userId);
        return await command.ExecuteScalarAsync(cancellationToken) is string role ? ParseRole(role) : null;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, object[] parameters,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var parameter in parameters)
        {
            command.Parameters.AddWithValue(parameter);
        }
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static NpgsqlBatchCommand Command(string sql, params object[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.AddWithValue(parameter);
        }
        return command;
    }

    /// <summary>Now, at Postgres's microsecond precision, so what a response says equals what a later read says.</summary>
    private DateTimeOffset Now()
    {
        var now = timeProvider.GetUtcNow();
        return now.AddTicks(-(now.Ticks % 10));
    }

    private static RoomRecord ReadRoom(NpgsqlDataReader reader) => new(reader.GetGuid(0), reader.GetString(1), reader.GetGuid(2),
        reader.GetFieldValue<DateTimeOffset>(3), reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4));

    public static RoomRole ParseRole(string role) => role switch
    {
        "host" => RoomRole.Host,
        "guest" => RoomRole.Guest,
        _ => throw new InvalidOperationException($"Unknown room role '{role}' in the database."),
    };

    public static string RoleName(RoomRole role) => role == RoomRole.Host ? "host" : "guest";
}
