using Conductor.Data.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Conductor.Data;

public static class DatabaseExtensions
{
    public const string ConnectionName = "conductordb";

    /// <summary>
    /// Registers the <see cref="NpgsqlDataSource"/> for <c>ConnectionStrings__conductordb</c> through Aspire.Npgsql,
    /// with its health check, traces and metrics: what the Api and GitWorker do with
    /// <c>builder.AddNpgsqlDataSource("conductordb")</c>, for hosts (tests) that want the name in one place.
    /// </summary>
    public static IHostApplicationBuilder AddConductorDatabase(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDataSource(ConnectionName);
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
