using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Npgsql;

namespace Conductor.Api.Auth.GitHub;

/// <summary>The GitHub token a user signed in with: their default git credential for the shared workspace.</summary>
public interface IGitHubTokenStore
{
    /// <summary>The user's GitHub access token, or null when they never signed in with GitHub. Never log it.</summary>
    Task<string?> GetTokenAsync(Guid userId, CancellationToken cancellationToken);
}

/// <summary>Keeps the token encrypted at rest with Data Protection (the shared key ring), in <c>github_tokens</c>.</summary>
public sealed partial class GitHubTokenStore(
    NpgsqlDataSource dataSource,
    IDataProtectionProvider dataProtection,
    TimeProvider timeProvider,
    ILogger<GitHubTokenStore> logger) : IGitHubTokenStore
{
    private readonly IDataProtector _protector = dataProtection.CreateProtector("Conductor.Auth.GitHubToken.v1");

    public async Task SaveAsync(Guid userId, string token, string? scopes, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO github_tokens (user_id, protected_token, scopes, updated_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (user_id) DO UPDATE SET protected_token = EXCLUDED.protected_token, scopes = EXCLUDED.scopes, updated_at = EXCLUDED.updated_at
            """);
        command.Parameters.AddWithValue(userId);
        command.Parameters.AddWithValue(_protector.Protect(token));
        command.Parameters.AddWithValue((object?)scopes ?? DBNull.Value);
        command.Parameters.AddWithValue(timeProvider.GetUtcNow());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<string?> GetTokenAsync(Guid userId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT protected_token FROM github_tokens WHERE user_id = $1");
        command.Parameters.AddWithValue(userId);
        if (await command.ExecuteScalarAsync(cancellationToken) is not string protectedToken)
        {
            return null;
        }
        try
        {
            return _protector.Unprotect(protectedToken);
        }
        catch (CryptographicException ex)
        {
            // The key that protected it is gone (a key ring reset): the user has to sign in with GitHub again.
            LogUnreadable(logger, ex, userId);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The stored GitHub token of user {UserId} cannot be decrypted; they must sign in with GitHub again")]
    private static partial void LogUnreadable(ILogger logger, Exception exception, Guid userId);
}
