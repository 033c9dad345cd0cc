using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Npgsql;

namespace Conductor.Api.Auth;

/// <summary>
/// Makes sure the shared key ring has a usable default key before the Api serves a request. Without this, two
/// instances starting together on an empty table would each create a key and, until their next refresh, reject
/// each other's tokens. One instance at a time checks and creates, under a Postgres advisory lock.
/// </summary>
internal sealed partial class DataProtectionKeyInitializer(
    NpgsqlDataSource dataSource,
    IKeyManager keyManager,
    TimeProvider timeProvider,
    ILogger<DataProtectionKeyInitializer> logger) : IHostedService
{
    /// <summary>"CondKeys" in ASCII.</summary>
    private const long AdvisoryLockKey = 0x43_6F_6E_64_4B_65_79_73;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_lock($1)", connection) { CommandTimeout = 0 })
        {
            lockCommand.Parameters.AddWithValue(AdvisoryLockKey);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }
        try
        {
            var now = timeProvider.GetUtcNow();
            // Usable now and for a while yet; otherwise Data Protection would roll a key on first use, per instance.
            var usable = keyManager.GetAllKeys().Any(k => !k.IsRevoked && k.ActivationDate <= now && k.ExpirationDate > now.AddDays(2));
            if (!usable)
            {
                var key = keyManager.CreateNewKey(now, now.AddDays(90));
                LogCreated(logger, key.KeyId, key.ExpirationDate);
            }
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", connection);
            unlock.Parameters.AddWithValue(AdvisoryLockKey);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Created Data Protection key {KeyId}, valid until {Expiration:O}, in the shared key ring")]
    private static partial void LogCreated(ILogger logger, Guid keyId, DateTimeOffset expiration);
}
