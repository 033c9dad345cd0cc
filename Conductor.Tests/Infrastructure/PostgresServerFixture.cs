using Conductor.LocalServers;
using Npgsql;

namespace Conductor.Tests.Infrastructure;

/// <summary>
/// A real Postgres cluster for a test collection (initdb into /tmp, no fsync), started by the AppHost's own
/// provisioning code. Tests isolate themselves by creating a database each with <see cref="CreateDatabaseAsync"/>.
/// </summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    private readonly string _directory = TestDirectories.Create("postgres");
    private LocalPostgresServer? _server;

    public LocalPostgresServer Server => _server ?? throw new InvalidOperationException("The Postgres fixture has not started.");

    /// <summary>A new, empty database; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string? prefix = null)
    {
        var name = $"{prefix ?? "test"}_{Guid.NewGuid():N}".ToLowerInvariant();
        await Server.EnsureDatabaseAsync(name);
        return Server.ConnectionStringFor(name);
    }

    public async Task InitializeAsync() =>
        _server = await LocalPostgresServer.StartAsync(new LocalPostgresOptions(_directory, SecretStore.Generate()) { Durable = false });

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        TestDirectories.TryDelete(_directory);
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServerFixture>
{
    public const string Name = "postgres";
}

/// <summary>Tests that need both servers (the job queue, the services end to end).</summary>
[CollectionDefinition(Name)]
public sealed class InfrastructureCollection : ICollectionFixture<PostgresServerFixture>, ICollectionFixture<RedisServerFixture>
{
    public const string Name = "infrastructure";
}
