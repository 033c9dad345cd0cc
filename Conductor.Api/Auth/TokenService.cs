using System.Buffers.Text;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.BearerToken;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace Conductor.Api.Auth;

/// <summary>
/// Issues access tokens through the framework's bearer-token format and keeps refresh tokens in Postgres. Refresh
/// tokens are opaque random strings stored as SHA-256 hashes; every use marks the token used and hands out its
/// successor in the same family, and a second use of a used token (it leaked, or was stolen) revokes the family, unless
/// it is a client's retry after a lost answer (<see cref="AuthOptions.RefreshRetryWindow"/>).
/// A family is a session: its access tokens carry its id (<see cref="UserClaims.SessionId"/>), and revoking the family
/// revokes them too, on every instance at once (<see cref="SessionRevocations"/>).
/// </summary>
public sealed partial class TokenService(
    NpgsqlDataSource dataSource,
    UserStore users,
    SessionRevocations revocations,
    IOptionsMonitor<BearerTokenOptions> bearerOptions,
    IOptions<AuthOptions> options,
    TimeProvider timeProvider,
    ILogger<TokenService> logger)
{
    /// <summary>A recognisable prefix, so secret scanners and people can tell what leaked.</summary>
    private const string RefreshTokenPrefix = "crt_";

    private const int MaxRefreshTokenLength = 128;

    /// <summary>Signs the user in: a new refresh-token family.</summary>
    public async Task<IssuedTokens> IssueAsync(UserRecord user, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var familyId = Guid.CreateVersion7(now);
        var refreshToken = NewRefreshToken();
        await using (var insert = dataSource.CreateCommand(InsertRefreshTokenSql))
        {
            AddInsertParameters(insert, Guid.CreateVersion7(now), Hash(refreshToken), familyId, user.Id, now);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        LogSignedIn(logger, user.Id, familyId);
        return new IssuedTokens(CreateAccessToken(user, familyId, now), refreshToken, options.Value.AccessTokenLifetime, user);
    }

    /// <summary>Rotates a refresh token: the presented one becomes used and a successor is issued.</summary>
    public async Task<(IssuedTokens? Tokens, RefreshFailure? Failure)> RefreshAsync(string? refreshToken, CancellationToken cancellationToken)
    {
        if (!LooksLikeRefreshToken(refreshToken))
        {
            return (null, RefreshFailure.Invalid);
        }
        var now = timeProvider.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // FOR UPDATE serialises concurrent uses of one token: the second one sees it used (a retry, or reuse).
        Guid id, familyId, userId;
        Guid? successorOfFirstUse;
        DateTimeOffset expiresAt;
        DateTimeOffset? usedAt;
        bool revoked, superseded;
        await using (var select = new NpgsqlCommand(
            "SELECT id, family_id, user_id, expires_at, used_at, revoked_at IS NOT NULL, superseded_at IS NOT NULL, replaced_by FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
            connection, transaction))
        {
            select.Parameters.AddWithValue(Hash(refreshToken!));
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return (null, RefreshFailure.Invalid);
            }
            (id, familyId, userId, expiresAt) = (reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetFieldValue<DateTimeOffset>(3));
            usedAt = reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4);
            (revoked, superseded) = (reader.GetBoolean(5), reader.GetBoolean(6));
            successorOfFirstUse = reader.IsDBNull(7) ? null : reader.GetGuid(7);
        }

        if (revoked)
        {
            return (null, RefreshFailure.Revoked);
        }
        // A retry: the client lost the answer to this token's use (the successor it never received is unused) and asks
        // again within the window. The lost successor is superseded, so it can never be used alongside the new one.
        var retry = false;
        if (usedAt is { } firstUse && !superseded && now - firstUse <= options.Value.RefreshRetryWindow && successorOfFirstUse is { } lost)
        {
            retry = await SupersedeIfUnusedAsync(connection, transaction, lost, now, cancellationToken);
        }
        if ((usedAt is not null || superseded) && !retry)
        {
            // A second use (or a superseded token, which only someone who did not retry still holds): it leaked.
            var revokedCount = await RevokeFamilyAsync(connection, transaction, familyId, now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            LogReuseDetected(logger, userId, familyId, revokedCount);
            try
            {
                // Whoever holds the stolen token may hold the session's access token too.
                await revocations.RevokeAsync(familyId, cancellationToken);
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException)
            {
                LogRevocationNotShared(logger, exception, familyId);
            }
            return (null, RefreshFailure.Reused);
        }
        if (expiresAt <= now)
        {
            return (null, RefreshFailure.Expired);
        }

        var user = await users.GetAsync(userId, cancellationToken);
        if (user is null)
        {
            return (null, RefreshFailure.Invalid);
        }
        var successorId = Guid.CreateVersion7(now);
        var successor = NewRefreshToken();
        // A retry keeps the first use's time: retrying again does not stretch the window.
        await using (var markUsed = new NpgsqlCommand(
            "UPDATE refresh_tokens SET used_at = coalesce(used_at, $2), replaced_by = $3 WHERE id = $1", connection, transaction))
        {
            markUsed.Parameters.AddWithValue(id);
            markUsed.Parameters.AddWithValue(now);
            markUsed.Parameters.AddWithValue(successorId);
            await markUsed.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var insert = new NpgsqlCommand(InsertRefreshTokenSql, connection, transaction))
        {
            AddInsertParameters(insert, successorId, Hash(successor), familyId, userId, now);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        if (retry)
        {
            LogRefreshRetried(logger, userId, familyId);
        }
        return (new IssuedTokens(CreateAccessToken(user, familyId, now), successor, options.Value.AccessTokenLifetime, user), null);
    }

    /// <summary>
    /// Signs out: revokes the token's whole family and its access tokens. False when the token is unknown. Throws
    /// <see cref="RedisException"/> or <see cref="TimeoutException"/> when the refresh tokens are revoked but the other instances could not be told.
    /// </summary>
    public async Task<bool> RevokeAsync(string? refreshToken, CancellationToken cancellationToken)
    {
        if (!LooksLikeRefreshToken(refreshToken))
        {
            return false;
        }
        var now = timeProvider.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        Guid familyId;
        await using (var select = new NpgsqlCommand("SELECT family_id FROM refresh_tokens WHERE token_hash = $1", connection, transaction))
        {
            select.Parameters.AddWithValue(Hash(refreshToken!));
            if (await select.ExecuteScalarAsync(cancellationToken) is not Guid found)
            {
                return false;
            }
            familyId = found;
        }
        await RevokeFamilyAsync(connection, transaction, familyId, now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogRevoked(logger, familyId);
        // After the commit: a retry after a Redis failure finds the family again and tells the instances then.
        await revocations.RevokeAsync(familyId, cancellationToken);
        return true;
    }

    private string CreateAccessToken(UserRecord user, Guid sessionId, DateTimeOffset now)
    {
        var identity = new ClaimsIdentity(
            [new Claim(UserClaims.UserId, user.Id.ToString("D")), new Claim(UserClaims.Login, user.Login),
                new Claim(UserClaims.SessionId, sessionId.ToString("D"))],
            BearerTokenDefaults.AuthenticationScheme, UserClaims.Login, roleType: null);
        var properties = new AuthenticationProperties { IssuedUtc = now, ExpiresUtc = now + options.Value.AccessTokenLifetime };
        var ticket = new AuthenticationTicket(new ClaimsPrincipal(identity), properties, BearerTokenDefaults.AuthenticationScheme);
        // The handler's own protector: what it unprotects on every request, keyed by the shared key ring.
        return bearerOptions.Get(BearerTokenDefaults.AuthenticationScheme).BearerTokenProtector.Protect(ticket);
    }

    /// <summary>Marks the successor superseded when it was never used (nor revoked, nor superseded already); false otherwise.</summary>
    private static async Task<bool> SupersedeIfUnusedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid successorId,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var supersede = new NpgsqlCommand("""
            UPDATE refresh_tokens SET superseded_at = $2
            WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND superseded_at IS NULL
            """, connection, transaction);
        supersede.Parameters.AddWithValue(successorId);
        supersede.Parameters.AddWithValue(now);
        return await supersede.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static async Task<int> RevokeFamilyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid familyId,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var revoke = new NpgsqlCommand(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL", connection, transaction);
        revoke.Parameters.AddWithValue(familyId);
        revoke.Parameters.AddWithValue(now);
        return await revoke.ExecuteNonQueryAsync(cancellationToken);
    }

    private const string InsertRefreshTokenSql =
        "INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";

    private void AddInsertParameters(NpgsqlCommand command, Guid id, byte[] hash, Guid familyId, Guid userId, DateTimeOffset now)
    {
        command.Parameters.AddWithValue(id);
        command.Parameters.AddWithValue(hash);
        command.Parameters.AddWithValue(familyId);
        command.Parameters.AddWithValue(userId);
        command.Parameters.AddWithValue(now);
        command.Parameters.AddWithValue(now + options.Value.RefreshTokenLifetime);
    }

    private static string NewRefreshToken() => RefreshTokenPrefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    private static bool LooksLikeRefreshToken(string? token) =>
        token is { Length: > 0 and <= MaxRefreshTokenLength } && token.StartsWith(RefreshTokenPrefix, StringComparison.Ordinal);

    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} signed in (refresh-token family {FamilyId})")]
    private static partial void LogSignedIn(ILogger logger, Guid userId, Guid familyId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A used refresh token of user {UserId} was presented again: revoked its family {FamilyId} ({RevokedCount} token(s))")]
    private static partial void LogReuseDetected(ILogger logger, Guid userId, Guid familyId, int revokedCount);

    [LoggerMessage(Level = LogLevel.Error, Message = "Refresh-token family {FamilyId} was revoked but Redis could not be told: other instances accept its access tokens until they expire")]
    private static partial void LogRevocationNotShared(ILogger logger, Exception exception, Guid familyId);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} presented a used refresh token again within the retry window (its successor unused): issued a new successor in family {FamilyId}, the unused one superseded")]
    private static partial void LogRefreshRetried(ILogger logger, Guid userId, Guid familyId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Refresh-token family {FamilyId} revoked on request")]
    private static partial void LogRevoked(ILogger logger, Guid familyId);
}
