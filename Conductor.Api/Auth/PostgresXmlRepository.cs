using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Npgsql;

namespace Conductor.Api.Auth;

/// <summary>
/// Data Protection's key ring in the <c>data_protection_keys</c> table, so every Api instance holds the same keys
/// and accepts the tokens (and invites, and stored GitHub tokens) that any other instance protected. The interface
/// is synchronous; Data Protection calls it rarely (start-up, key rotation, and at most daily refreshes).
/// </summary>
internal sealed partial class PostgresXmlRepository(NpgsqlDataSource dataSource, TimeProvider timeProvider, ILogger<PostgresXmlRepository> logger)
    : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var command = dataSource.CreateCommand("SELECT xml FROM data_protection_keys ORDER BY created_at, friendly_name");
        using var reader = command.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read())
        {
            elements.Add(XElement.Parse(reader.GetString(0)));
        }
        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        // Keys are immutable; a second write of one name (a retry) keeps the first.
        using var command = dataSource.CreateCommand(
            "INSERT INTO data_protection_keys (friendly_name, xml, created_at) VALUES ($1, $2, $3) ON CONFLICT (friendly_name) DO NOTHING");
        command.Parameters.AddWithValue(friendlyName);
        command.Parameters.AddWithValue(element.ToString(SaveOptions.DisableFormatting));
        command.Parameters.AddWithValue(timeProvider.GetUtcNow());
        command.ExecuteNonQuery();
        LogStored(logger, friendlyName);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Stored Data Protection key element {FriendlyName} in Postgres")]
    private static partial void LogStored(ILogger logger, string friendlyName);
}

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
