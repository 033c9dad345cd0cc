using Conductor.Hosting.ApplicationModel;
using Conductor.Hosting.Provisioning;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Conductor.Hosting.Orchestration;

/// <summary>A Postgres server in run mode: a local cluster, or external when every database's connection string is given.</summary>
internal sealed class PostgresRuntime(PostgresServerResource resource, string dataDirectory, string password, bool durable, bool external, ILogger logger)
    : ResourceRuntime(resource, logger)
{
    private LocalPostgresServer? _server;
    private int _port; // kept across restarts, so the connection strings projects hold stay valid

    public bool IsExternal => external;
    public LocalPostgresServer Server => _server ?? throw new InvalidOperationException("Postgres has not started.");
    public override int? Pid => _server?.ProcessId;
    public override IReadOnlyList<ResourceEndpoint> Endpoints => _server is null ? [] : [new("tcp", $"tcp://127.0.0.1:{_server.Port}")];

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (external)
        {
            SetState(ResourceState.Running);
            SetHealth(ResourceHealth.Healthy);
            return;
        }
        SetState(ResourceState.Starting);
        _server = await LocalPostgresServer.StartAsync(new LocalPostgresOptions(dataDirectory, password) { Durable = durable, Port = _port }, Logger, cancellationToken).ConfigureAwait(false);
        _port = _server.Port;
        _server.Console.LineAppended += line => Console.Append(line.IsError, line.Text);
        foreach (var line in _server.Console.Snapshot())
        {
            Console.Append(line.IsError, line.Text);
        }
        StartedAt = DateTimeOffset.UtcNow;
        SetState(ResourceState.Running);
        var server = _server;
        ReportUnexpectedExit(server.Exited, () => _server == server, "postgres");
    }

    public override async Task StopAsync()
    {
        if (_server is null)
        {
            return;
        }
        SetState(ResourceState.Stopping);
        NpgsqlConnection.ClearAllPools();
        await _server.DisposeAsync().ConfigureAwait(false);
        _server = null;
        SetState(ResourceState.Stopped);
    }

    public override async Task<bool> CheckHealthAsync(CancellationToken cancellationToken)
    {
        if (external)
        {
            return true;
        }
        if (_server is null)
        {
            return false;
        }
        return await PostgresProbe.CanQueryAsync(_server.ConnectionStringFor("postgres"), cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>A database on a Postgres server: created once the server is healthy, healthy when it answers a query.</summary>
internal sealed class PostgresDatabaseRuntime(PostgresDatabaseResource resource, PostgresRuntime server, string? externalConnectionString, ILogger logger)
    : ResourceRuntime(resource, logger)
{
    private readonly PostgresDatabaseResource _database = resource;

    public string ConnectionString => externalConnectionString ?? server.Server.ConnectionStringFor(_database.DatabaseName);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        SetState(ResourceState.Starting);
        if (externalConnectionString is null)
        {
            await server.Server.EnsureDatabaseAsync(_database.DatabaseName, cancellationToken).ConfigureAwait(false);
        }
        StartedAt = DateTimeOffset.UtcNow;
        SetState(ResourceState.Running);
    }

    public override Task StopAsync()
    {
        SetState(ResourceState.Stopped);
        return Task.CompletedTask;
    }

    public override Task<bool> CheckHealthAsync(CancellationToken cancellationToken) =>
        PostgresProbe.CanQueryAsync(ConnectionString, cancellationToken);
}

internal static class PostgresProbe
{
    public static async Task<bool> CanQueryAsync(string connectionString, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false;Timeout=3");
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return false;
        }
    }
}
