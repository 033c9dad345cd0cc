using Conductor.LocalServers;

namespace Conductor.Tests.Infrastructure;

/// <summary>A real redis-server for a test collection, started by the same provisioning code the AppHost uses.</summary>
public sealed class RedisServerFixture : IAsyncLifetime
{
    private readonly string _directory = TestDirectories.Create("redis");
    private LocalRedisServer? _server;

    public LocalRedisServer Server => _server ?? throw new InvalidOperationException("The Redis fixture has not started.");
    public string ConnectionString => Server.ConnectionString;
    public int Port => Server.Port;
    public string Password => Server.Password;

    /// <summary>Restarts the server on the same port; with <paramref name="discardData"/> it comes back empty.</summary>
    public Task RestartAsync(bool discardData = false) => Server.RestartAsync(discardData);

    public async Task InitializeAsync() =>
        _server = await LocalRedisServer.StartAsync(new LocalRedisOptions(_directory, SecretStore.Generate()));

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        TestDirectories.TryDelete(_directory);
    }
}

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisServerFixture>
{
    public const string Name = "redis";
}
