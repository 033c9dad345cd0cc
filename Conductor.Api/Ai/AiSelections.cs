using Npgsql;

namespace Conductor.Api.Ai;

/// <summary>
/// Which provider each user picked. Kept in Postgres so every Api instance answers the same; users who never
/// picked one get <see cref="AiProviderCatalog.DefaultProvider"/>.
/// </summary>
public sealed class AiSelections(NpgsqlDataSource dataSource, AiProviderCatalog catalog, TimeProvider time)
{
    /// <summary>The provider the user's AI calls go to: their selection while it is still configured, else the default.</summary>
    public async Task<AiProvider> GetActiveAsync(Guid userId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT provider_name FROM ai_provider_selections WHERE user_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        var selected = await command.ExecuteScalarAsync(cancellationToken) as string;
        return (selected is null ? null : catalog.Find(selected))
            ?? catalog.Find(catalog.DefaultProvider)
            ?? catalog.Find(AiOptions.MockProviderName)!;
    }

    public async Task SelectAsync(Guid userId, AiProvider provider, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO ai_provider_selections (user_id, provider_name, updated_at) VALUES ($1, $2, $3)
            ON CONFLICT (user_id) DO UPDATE SET provider_name = EXCLUDED.provider_name, updated_at = EXCLUDED.updated_at
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        command.Parameters.Add(new NpgsqlParameter { Value = provider.Name });
        command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
