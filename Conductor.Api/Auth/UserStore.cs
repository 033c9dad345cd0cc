using Npgsql;

namespace Conductor.Api.Auth;

/// <summary>The <c>users</c> table.</summary>
public sealed class UserStore(NpgsqlDataSource dataSource, TimeProvider timeProvider)
{
    public async Task<UserRecord?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id, login, github_id, created_at FROM users WHERE id = $1");
        command.Parameters.AddWithValue(id);
        return await ReadSingleAsync(command, cancellationToken);
    }

    /// <summary>Dev login: the user with that login (any case), created on first use.</summary>
    public async Task<UserRecord> GetOrCreateByLoginAsync(string login, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        // The no-op update makes RETURNING yield the existing row too, in one statement, race-free.
        await using var command = dataSource.CreateCommand("""
            INSERT INTO users (id, login, created_at, updated_at) VALUES ($1, $2, $3, $3)
            ON CONFLICT (lower(login)) DO UPDATE SET login = users.login
            RETURNING id, login, github_id, created_at
            """);
        command.Parameters.AddWithValue(Guid.CreateVersion7(now));
        command.Parameters.AddWithValue(login);
        command.Parameters.AddWithValue(now);
        return await ReadSingleAsync(command, cancellationToken) ?? throw new InvalidOperationException("The upsert returned no row.");
    }

    /// <summary>
    /// GitHub sign-in: the user with that GitHub id, created on first sign-in and renamed when their GitHub login
    /// changed. A user who held the login before without a GitHub id (a dev login) becomes this GitHub user, unless
    /// this GitHub user already exists; any other holder of the login (someone who renamed away on GitHub) gives
    /// it up and keeps their account under <c>login~suffix</c>.
    /// </summary>
    public async Task<UserRecord> UpsertGitHubUserAsync(long gitHubId, string login, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        await using (var release = new NpgsqlCommand("""
            UPDATE users SET login = left(login, 40) || '~' || coalesce(github_id::text, left(id::text, 8)), updated_at = $3
            WHERE lower(login) = lower($1) AND github_id IS DISTINCT FROM $2
              AND (github_id IS NOT NULL OR EXISTS (SELECT 1 FROM users WHERE github_id = $2))
            """, connection, transaction))
        {
            release.Parameters.AddWithValue(login);
            release.Parameters.AddWithValue(gitHubId);
            release.Parameters.AddWithValue(now);
            await release.ExecuteNonQueryAsync(cancellationToken);
        }

        UserRecord? user;
        await using (var link = new NpgsqlCommand("""
            UPDATE users SET github_id = $2, updated_at = $3
            WHERE lower(login) = lower($1) AND github_id IS NULL
              AND NOT EXISTS (SELECT 1 FROM users WHERE github_id = $2)
            RETURNING id, login, github_id, created_at
            """, connection, transaction))
        {
            link.Parameters.AddWithValue(login);
            link.Parameters.AddWithValue(gitHubId);
            link.Parameters.AddWithValue(now);
            user = await ReadSingleAsync(link, cancellationToken);
        }

        if (user is null)
        {
            await using var upsert = new NpgsqlCommand("""
                INSERT INTO users (id, login, github_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
                ON CONFLICT (github_id) DO UPDATE SET login = EXCLUDED.login, updated_at = EXCLUDED.updated_at
                RETURNING id, login, github_id, created_at
                """, connection, transaction);
            upsert.Parameters.AddWithValue(Guid.CreateVersion7(now));
            upsert.Parameters.AddWithValue(login);
            upsert.Parameters.AddWithValue(gitHubId);
            upsert.Parameters.AddWithValue(now);
            user = await ReadSingleAsync(upsert, cancellationToken) ?? throw new InvalidOperationException("The upsert returned no row.");
        }
        await transaction.CommitAsync(cancellationToken);
        return user;
    }

    private static async Task<UserRecord?> ReadSingleAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }
        return new UserRecord(reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt64(2),
            reader.GetFieldValue<DateTimeOffset>(3));
    }
}
