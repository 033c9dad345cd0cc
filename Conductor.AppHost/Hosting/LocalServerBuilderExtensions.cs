using Aspire.Hosting.ApplicationModel;
using Conductor.LocalServers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aspire.Hosting;

/// <summary>
/// Adds Redis and PostgreSQL to the app model as local server processes that DCP runs, for machines without a
/// container runtime. Shaped like Aspire's own AddRedis / AddPostgres (health checks, connection-string
/// expressions, a database created on <see cref="ResourceReadyEvent"/>); the provisioning itself (binaries
/// installed when missing, initdb, passwords kept out of argv) is Conductor.LocalServers. Use these in run mode
/// only: a manifest needs Aspire's container resources.
/// </summary>
public static partial class LocalServerBuilderExtensions
{
    /// <summary>
    /// Adds a local redis-server. Its data (append-only file, snapshots) stays in <paramref name="dataDirectory"/>
    /// across runs; the password, kept in a 0600 configuration file, comes from <paramref name="password"/>.
    /// </summary>
    /// <param name="builder">The <see cref="IDistributedApplicationBuilder"/>.</param>
    /// <param name="name">The resource name, also the connection string name.</param>
    /// <param name="dataDirectory">The server's folder (created).</param>
    /// <param name="password">The parameter that holds the password.</param>
    /// <param name="port">The port on 127.0.0.1; a free one when null.</param>
    /// <returns>A reference to the <see cref="IResourceBuilder{T}"/>.</returns>
    /// <remarks>
    /// The resource has a health check (AUTH + PING), so projects that <c>WaitFor</c> it start once it serves.
    /// </remarks>
    public static IResourceBuilder<LocalRedisResource> AddLocalRedis(this IDistributedApplicationBuilder builder,
        [ResourceName] string name, string dataDirectory, IResourceBuilder<ParameterResource> password, int? port = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);

        var redis = new LocalRedisResource(name, Path.GetFullPath(dataDirectory), password.Resource);
        var serverPort = port ?? FreePort.Next();

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(redis, async (_, ct) =>
            connectionString = await redis.ConnectionStringExpression.GetValueAsync(ct).ConfigureAwait(false));

        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(_ => connectionString ?? throw new InvalidOperationException("Connection string is unavailable"), name: healthCheckKey);

        var resourceBuilder = builder.AddResource(redis)
            .WithEndpoint(port: serverPort, targetPort: serverPort, name: LocalRedisResource.PrimaryEndpointName, scheme: "tcp", isProxied: false)
            .WithIconName("Memory")
            .WithHealthCheck(healthCheckKey)
            .WithArgs(context =>
            {
                foreach (var argument in redis.Prepared?.Arguments ?? [])
                {
                    context.Args.Add(argument);
                }
            });

        // Before DCP reads the command: install redis-server if needed and write the configuration file.
        builder.Eventing.Subscribe<BeforeStartEvent>(async (@event, ct) =>
        {
            // A start that is already cancelled (a test disposing an unstarted host) must not provision anything.
            ct.ThrowIfCancellationRequested();
            var logger = @event.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(LocalServerBuilderExtensions));
            var passwordValue = await redis.PasswordParameter.GetValueAsync(ct).ConfigureAwait(false) ?? "";
            redis.Prepared = await LocalRedisServer.PrepareAsync(
                new LocalRedisOptions(redis.DataDirectory, passwordValue) { Port = serverPort }, logger, ct).ConfigureAwait(false);
            resourceBuilder.WithCommand(redis.Prepared.FileName);
        });
        return resourceBuilder;
    }

    /// <summary>
    /// Adds a local PostgreSQL cluster, initialised in <paramref name="dataDirectory"/> on first use with the
    /// superuser password from <paramref name="password"/> (handed to initdb in a file, never in argv). When the
    /// AppHost runs as root the server runs as the <c>postgres</c> OS user. The AppHost asks it for a fast shutdown
    /// when it stops, so a stop is quick and leaves a clean, checkpointed cluster.
    /// </summary>
    /// <param name="builder">The <see cref="IDistributedApplicationBuilder"/>.</param>
    /// <param name="name">The resource name, also the connection string name.</param>
    /// <param name="dataDirectory">The cluster's folder (created).</param>
    /// <param name="password">The parameter that holds the superuser password.</param>
    /// <param name="port">The port on 127.0.0.1; a free one when null.</param>
    /// <returns>A reference to the <see cref="IResourceBuilder{T}"/>.</returns>
    public static IResourceBuilder<LocalPostgresServerResource> AddLocalPostgres(this IDistributedApplicationBuilder builder,
        [ResourceName] string name, string dataDirectory, IResourceBuilder<ParameterResource> password, int? port = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);

        var postgres = new LocalPostgresServerResource(name, Path.GetFullPath(dataDirectory), password.Resource);
        var serverPort = port ?? FreePort.Next();

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(postgres, async (_, ct) =>
            connectionString = await postgres.ConnectionStringExpression.GetValueAsync(ct).ConfigureAwait(false));

        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().AddNpgSql(_ => (connectionString ?? throw new InvalidOperationException("Connection string is unavailable")) + ";Database=postgres",
            name: healthCheckKey);

        // Once the server answers: create its databases, then report them running so their own health checks start.
        builder.Eventing.Subscribe<ResourceReadyEvent>(postgres, async (@event, ct) =>
        {
            var notifications = @event.Services.GetRequiredService<ResourceNotificationService>();
            var serverConnectionString = await postgres.ConnectionStringExpression.GetValueAsync(ct).ConfigureAwait(false)
                ?? throw new DistributedApplicationException($"The '{postgres.Name}' resource is ready but has no connection string.");
            foreach (var database in builder.Resources.OfType<LocalPostgresDatabaseResource>().Where(d => d.Parent == postgres))
            {
                await LocalPostgresServer.EnsureDatabaseAsync(serverConnectionString, database.DatabaseName, ct).ConfigureAwait(false);
                database.ResolvedConnectionString = await database.ConnectionStringExpression.GetValueAsync(ct).ConfigureAwait(false);
                await notifications.PublishUpdateAsync(database, snapshot => snapshot with
                {
                    State = KnownResourceStates.Running,
                    StartTimeStamp = DateTime.UtcNow,
                }).ConfigureAwait(false);
            }
        });

        // When the server stops (Ctrl+C, or Stop on the dashboard), its databases stop with it; a restart makes the
        // server ready again, and the handler above reports them running.
        builder.Eventing.Subscribe<ResourceStoppedEvent>(postgres, async (@event, _) =>
        {
            var notifications = @event.Services.GetRequiredService<ResourceNotificationService>();
            foreach (var database in builder.Resources.OfType<LocalPostgresDatabaseResource>().Where(d => d.Parent == postgres))
            {
                await notifications.PublishUpdateAsync(database, snapshot => snapshot with
                {
                    State = KnownResourceStates.Exited,
                    StopTimeStamp = DateTime.UtcNow,
                }).ConfigureAwait(false);
            }
        });

        var resourceBuilder = builder.AddResource(postgres)
            .WithEndpoint(port: serverPort, targetPort: serverPort, name: LocalPostgresServerResource.PrimaryEndpointName, scheme: "tcp", isProxied: false)
            .WithIconName("DatabaseMultiple")
            .WithHealthCheck(healthCheckKey)
            .WithArgs(context =>
            {
                foreach (var argument in postgres.Prepared?.Arguments ?? [])
                {
                    context.Args.Add(argument);
                }
            });

        builder.Eventing.Subscribe<BeforeStartEvent>(async (@event, ct) =>
        {
            // A start that is already cancelled (a test disposing an unstarted host) must not provision anything.
            ct.ThrowIfCancellationRequested();
            var logger = @event.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(LocalServerBuilderExtensions));
            var passwordValue = await postgres.PasswordParameter.GetValueAsync(ct).ConfigureAwait(false) ?? "";
            postgres.Prepared = await LocalPostgresServer.PrepareAsync(
                new LocalPostgresOptions(postgres.DataDirectory, passwordValue) { Port = serverPort }, logger, ct).ConfigureAwait(false);
            resourceBuilder.WithCommand(postgres.Prepared.FileName);

            // DCP stops executables with SIGTERM, Postgres's "smart" shutdown, which waits for every client (the
            // projects' pools) to leave. A fast shutdown first makes the stop quick and still checkpoints the data.
            var lifetime = @event.Services.GetRequiredService<IHostApplicationLifetime>();
            lifetime.ApplicationStopping.Register(() =>
            {
                if (LocalPostgresServer.RequestFastShutdown(postgres.DataDirectory))
                {
                    LogFastShutdown(logger, postgres.Name);
                }
            });

            var notifications = @event.Services.GetRequiredService<ResourceNotificationService>();
            foreach (var database in builder.Resources.OfType<LocalPostgresDatabaseResource>().Where(d => d.Parent == postgres))
            {
                await notifications.PublishUpdateAsync(database, snapshot => snapshot with
                {
                    ResourceType = "PostgresDatabase",
                    State = KnownResourceStates.Waiting,
                    Properties = [.. snapshot.Properties, new("DatabaseName", database.DatabaseName)],
                }).ConfigureAwait(false);
            }
        });
        return resourceBuilder;
    }

    /// <summary>
    /// Adds a database to a local PostgreSQL server; it is created (if missing) when the server is ready.
    /// </summary>
    /// <param name="builder">The server.</param>
    /// <param name="name">The resource name, also the connection string name.</param>
    /// <param name="databaseName">The database's name; <paramref name="name"/> when null.</param>
    /// <returns>A reference to the <see cref="IResourceBuilder{T}"/>.</returns>
    /// <remarks>The resource has a health check that opens a connection to the database.</remarks>
    public static IResourceBuilder<LocalPostgresDatabaseResource> AddDatabase(this IResourceBuilder<LocalPostgresServerResource> builder,
        [ResourceName] string name, string? databaseName = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);

        var database = new LocalPostgresDatabaseResource(name, databaseName ?? name, builder.Resource);
        builder.Resource.AddDatabase(name, database.DatabaseName);

        // The server's ready handler creates the database and resolves this connection string before it reports it running.
        var healthCheckKey = $"{name}_check";
        builder.ApplicationBuilder.Services.AddHealthChecks().AddNpgSql(_ => database.ResolvedConnectionString ?? throw new InvalidOperationException("Connection string is unavailable"),
            name: healthCheckKey);

        return builder.ApplicationBuilder.AddResource(database)
            .WithIconName("Database")
            .WithHealthCheck(healthCheckKey);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Asked {Resource} for a fast shutdown")]
    private static partial void LogFastShutdown(ILogger logger, string resource);
}
