using System.Xml.Linq;
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
