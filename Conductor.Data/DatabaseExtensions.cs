using Conductor.Data.Migrations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Conductor.Data;

public static class DatabaseExtensions
{
    public const string ConnectionName = "conductordb";

    /// <summary>
    /// Registers the <see cref="NpgsqlDataSource"/> for <c>ConnectionStrings__conductordb</c> (Aspire's convention)
    /// and a <c>postgres</c> health check. Fails at start-up, not at first use, when the connection string is missing.
    /// </summary>
    public static IHostApplicationBuilder AddConductorDatabase(this IHostApplicationBuilder builder)
    {
        var connectionString = builder.Configuration.GetConnectionString(ConnectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                $"ConnectionStrings:{ConnectionName} is not configured. Run through the AppHost (dotnet run --project Conductor.AppHost) or set ConnectionStrings__{ConnectionName}.");
        }

        builder.Services.AddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString).Build());
        builder.Services.AddHealthChecks().AddCheck<PostgresHealthCheck>("postgres", timeout: TimeSpan.FromSeconds(5));
        return builder;
    }

    /// <summary>
    /// Applies the embedded <c>Migrations/NNNN_*.sql</c> at start-up, before the service listens. Call it right after
    /// <see cref="AddConductorDatabase"/> and before anything that uses the schema from a hosted service: hosted
    /// services start in registration order.
    /// </summary>
    public static IHostApplicationBuilder AddConductorMigrations(this IHostApplicationBuilder builder)
    {
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<IMigrationSource>(new EmbeddedMigrationSource());
        builder.Services.TryAddSingleton<MigrationRunner>();
        builder.Services.AddHostedService<MigrationHostedService>();
        return builder;
    }
}

internal sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return HealthCheckResult.Unhealthy($"Postgres is unreachable: {ex.Message}");
        }
    }
}
