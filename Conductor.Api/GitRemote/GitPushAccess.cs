using Conductor.Workspaces.Personal;
using Npgsql;

namespace Conductor.Api.GitRemote;

/// <summary>Members the host allows to push over the room's git remote (table <c>room_git_pushers</c>); the host always may.</summary>
public sealed class GitPushAccess(NpgsqlDataSource dataSource, TimeProvider time)
{
    /// <summary>False when the user is not a member of the room.</summary>
    public async Task<bool> GrantAsync(Guid roomId, Guid userId, Guid grantedBy, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO room_git_pushers (room_id, user_id, granted_by, granted_at)
            SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM room_members WHERE room_id = $1 AND user_id = $2)
            ON CONFLICT (room_id, user_id) DO NOTHING
            """);
        command.Parameters.AddWithValue(roomId);
        command.Parameters.AddWithValue(userId);
        command.Parameters.AddWithValue(grantedBy);
        command.Parameters.AddWithValue(time.GetUtcNow());
        await command.ExecuteNonQueryAsync(cancellationToken);
        return await IsGrantedAsync(roomId, userId, cancellationToken);
    }

    public async Task RevokeAsync(Guid roomId, Guid userId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM room_git_pushers WHERE room_id = $1 AND user_id = $2");
        command.Parameters.AddWithValue(roomId);
        command.Parameters.AddWithValue(userId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// The user whose own branch <paramref name="reference"/> is (<c>refs/heads/session/{room_id}-{login}</c>, any
    /// user's login, case-insensitive as logins are), or null when it is not one: a topic branch beside the room's.
    /// </summary>
    public async Task<string?> PersonalBranchOwnerAsync(Guid roomId, string reference, CancellationToken cancellationToken)
    {
        var prefix = $"refs/heads/session/{roomId:D}-";
        if (!reference.StartsWith(prefix, StringComparison.Ordinal) || !PersonalWorktreeNames.IsValidLogin(reference[prefix.Length..]))
        {
            return null;
        }
        await using var command = dataSource.CreateCommand("SELECT login FROM users WHERE lower(login) = lower($1)");
        command.Parameters.AddWithValue(reference[prefix.Length..]);
        return (string?)await command.ExecuteScalarAsync(cancellationToken);
    }

    /// <summary>Granted and still a member (a removed member's grant no longer counts).</summary>
    public async Task<bool> IsGrantedAsync(Guid roomId, Guid userId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT EXISTS (SELECT 1 FROM room_git_pushers p JOIN room_members m ON m.room_id = p.room_id AND m.user_id = p.user_id
                           WHERE p.room_id = $1 AND p.user_id = $2)
            """);
        command.Parameters.AddWithValue(roomId);
        command.Parameters.AddWithValue(userId);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
