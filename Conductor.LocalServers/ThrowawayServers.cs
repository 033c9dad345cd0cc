namespace Conductor.LocalServers;

/// <summary>
/// A private Postgres (with an empty <c>conductordb</c>) and Redis in a temporary folder, nothing kept: what the
/// benchmarks run Conductor against. Disposing stops both and deletes the folder.
/// </summary>
public sealed class ThrowawayServers : IAsyncDisposable
{
    public const string DatabaseName = "conductordb";

    private LocalPostgresServer? _postgres;
    private LocalRedisServer? _redis;

    private ThrowawayServers(string folder) => Folder = folder;

    public string Folder { get; }
    public LocalPostgresServer Postgres => _postgres ?? throw new InvalidOperationException("Postgres has not started.");
    public LocalRedisServer Redis => _redis ?? throw new InvalidOperationException("Redis has not started.");
    public string DatabaseConnectionString => Postgres.ConnectionStringFor(DatabaseName);
    public string RedisConnectionString => Redis.ConnectionString;

    /// <summary>Both servers without durability (no fsync, no Redis persistence): fast, and a crash may lose the data.</summary>
    public static Task<ThrowawayServers> StartAsync(string purpose, CancellationToken cancellationToken = default) =>
        StartAsync(purpose, durable: false, cancellationToken);

    /// <param name="durable">
    /// As the AppHost runs them: Postgres with fsync and synchronous commit (a commit waits for its WAL flush), Redis
    /// with its append-only file. For benchmarks whose figures include commits; the data is still deleted at the end.
    /// </param>
    public static async Task<ThrowawayServers> StartAsync(string purpose, bool durable, CancellationToken cancellationToken = default)
    {
        var servers = new ThrowawayServers(Directory.CreateTempSubdirectory($"conductor-{purpose}-").FullName);
        try
        {
            if (!OperatingSystem.IsWindows())
            {
                // Postgres runs as the postgres OS user when we are root; it must be able to reach the folder.
                File.SetUnixFileMode(servers.Folder, (UnixFileMode)0b111_111_111);
            }
            servers._postgres = await LocalPostgresServer.StartAsync(
                new LocalPostgresOptions(Path.Combine(servers.Folder, "postgres"), SecretStore.Generate()) { Durable = durable },
                cancellationToken: cancellationToken);
            await servers._postgres.EnsureDatabaseAsync(DatabaseName, cancellationToken);
            servers._redis = await LocalRedisServer.StartAsync(
                new LocalRedisOptions(Path.Combine(servers.Folder, "redis"), SecretStore.Generate()) { Persistent = durable },
                cancellationToken: cancellationToken);
            return servers;
        }
        catch
        {
            await servers.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A server may still be flushing; the folder is under the temp folder and harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
