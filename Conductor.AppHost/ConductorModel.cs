using Aspire.Hosting.ApplicationModel;
using Conductor.LocalServers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Conductor.AppHost;

/// <summary>
/// Conductor's topology. In run mode Redis and Postgres are local server processes that DCP runs (no container
/// runtime here, nor on many developers' machines) with their data in the data folder (<c>.conductor/</c>), or the
/// servers that <c>ConnectionStrings__redis</c> / <c>ConnectionStrings__conductordb</c> name; in publish mode they
/// are Aspire's own Redis and Postgres containers, which is what azd deploys.
/// </summary>
public static class ConductorModel
{
    /// <summary>Configuration key of the data folder; the repository's <c>.conductor/</c> when unset.</summary>
    public const string DataDirectoryKey = "AppHost:DataDirectory";

    /// <summary>
    /// What a reference hands a project: <c>ConnectionStrings__x</c> (what the Aspire client integrations read) and
    /// <c>services__x__http__0</c> (service discovery). Aspire 13 would add each connection property too
    /// (<c>REDIS_URI</c>, …), which no Conductor service reads and which the manifest could only express with
    /// <c>annotated.string</c> resources that the aspire-8.0 schema cannot resolve.
    /// </summary>
    private const ReferenceEnvironmentInjectionFlags ConnectionInformation =
        ReferenceEnvironmentInjectionFlags.ConnectionString | ReferenceEnvironmentInjectionFlags.ServiceDiscovery;

    private const string OtlpExportTimeoutMilliseconds = "1000";

    public static void Define(IDistributedApplicationBuilder builder)
    {
        var isRunMode = builder.ExecutionContext.IsRunMode;
        var dataDirectory = Path.GetFullPath(builder.Configuration[DataDirectoryKey]
            ?? Path.Combine(builder.AppHostDirectory, "..", ".conductor"));
        if (isRunMode)
        {
            // Before anything touches a server: a second run against the same data folder stops here, with one line
            // that says so. Released when the AppHost stops (or, if it is killed, by the kernel).
            var dataFolder = new DataFolder(dataDirectory);
            dataFolder.Lock();
            builder.Services.AddSingleton(dataFolder);
            builder.Eventing.Subscribe<BeforeStartEvent>((@event, _) =>
            {
                @event.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(dataFolder.Dispose);
                return Task.CompletedTask;
            });
        }

        var (redis, redisServer) = AddRedis(builder, dataDirectory);
        var (conductorDb, databaseServer) = AddConductorDatabase(builder, dataDirectory);

        // The Api reads and writes the worktrees the GitWorker clones: both get the same workspace folder.
        var api = builder.AddProject<Projects.Conductor_Api>("api")
            .WithReferenceEnvironment(ConnectionInformation)
            .WithHttpEndpoint(port: builder.Configuration.GetValue("AppHost:ApiPort", 5080))
            .WithExternalHttpEndpoints()
            .WithHttpHealthCheck("/health")
            .WithReference(redis)
            .WithReference(conductorDb);

        var gitworker = builder.AddProject<Projects.Conductor_GitWorker>("gitworker")
            .WithReferenceEnvironment(ConnectionInformation)
            .WithHttpEndpoint()
            .WithHttpHealthCheck("/health")
            .WithReference(redis)
            .WithReference(conductorDb);

        foreach (var project in new[] { api, gitworker })
        {
            if (redisServer is not null)
            {
                project.WaitFor(redisServer);
            }
            if (databaseServer is not null)
            {
                project.WaitFor(conductorDb);
            }
        }

        var web = builder.AddProject<Projects.Conductor_Web>("web")
            .WithReferenceEnvironment(ConnectionInformation)
            .WithHttpEndpoint(port: builder.Configuration.GetValue("AppHost:WebPort", 5090))
            .WithExternalHttpEndpoints()
            .WithHttpHealthCheck("/health")
            .WithReference(api)
            .WaitFor(api);

        // The Api links to the web app (invites) and answers CORS for its origin; no WaitFor, so no cycle.
        api.WithReference(web);

        if (isRunMode)
        {
            var workspaces = Path.Combine(dataDirectory, "workspaces");
            foreach (var project in new[] { api, gitworker, web })
            {
                // Projects have no launch profiles: they run in the AppHost's environment (Development locally).
                project.WithEnvironment("ASPNETCORE_ENVIRONMENT", builder.Environment.EnvironmentName)
                    .WithEnvironment("DOTNET_ENVIRONMENT", builder.Environment.EnvironmentName)
                    // Aspire sets in-memory OTLP retries; once the dashboard has stopped, a project would then keep
                    // retrying its exports for ~14 s before it exits. Removed (other values crash the SDK), Ctrl+C
                    // stops everything in a few seconds.
                    .WithEnvironment(context =>
                    {
                        context.EnvironmentVariables.Remove("OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY");
                        // DCP proxies the dashboard's OTLP port: once the dashboard has stopped, the proxy still
                        // accepts connections and never answers, so each final export waited out the default 10 s
                        // timeout (a stopping Api took ~15 s, measured). Exports to a local dashboard take
                        // milliseconds; a short timeout only bounds how long a stop can hang on one.
                        context.EnvironmentVariables["OTEL_EXPORTER_OTLP_TIMEOUT"] = OtlpExportTimeoutMilliseconds;
                    });
            }
            foreach (var project in new[] { api, gitworker })
            {
                project.WithEnvironment("Workspaces__Root", workspaces)
                    // On a developer's machine a workspace may come from a local path, a file:// URL or a git server
                    // on the LAN; a deployment keeps the defaults (public https only: no SSRF into the private network).
                    .WithEnvironment("Workspaces__AllowHttp", "true")
                    .WithEnvironment("Workspaces__AllowFile", "true")
                    .WithEnvironment("Workspaces__AllowPrivateNetworks", "true");
            }
            // Local runs sign in by name (POST /auth/dev); a deployment never does, so this stays out of the manifest.
            api.WithEnvironment("Auth__DevLogin", "true");
        }

        // AI providers beyond the built-in offline mock, each active once its key is given: locally as
        // Parameters__openai-api-key (environment or user secrets), in a deployment as the secret azd keeps.
        AddAiProvider(builder, api, "openai", model: "gpt-4o-mini");
        AddAiProvider(builder, api, "anthropic", model: "claude-sonnet-4-5");
    }

    /// <summary>Redis, and the server resource to wait for (none when the connection string names an existing server).</summary>
    private static (IResourceBuilder<IResourceWithConnectionString> Redis, IResourceBuilder<IResource>? Server) AddRedis(
        IDistributedApplicationBuilder builder, string dataDirectory)
    {
        const string name = "redis";
        if (builder.ExecutionContext.IsPublishMode)
        {
            // Aspire 13 names the binding's scheme "redis"; the aspire-8.0 schema (and so azd's validation) allows
            // only http/https/tcp/udp. The connection string uses host and port only, so "tcp" changes nothing else.
            var container = builder.AddRedis(name)
                .WithEndpoint("tcp", endpoint => endpoint.UriScheme = "tcp");
            return (container, container);
        }
        if (!string.IsNullOrEmpty(builder.Configuration.GetConnectionString(name)))
        {
            return (builder.AddConnectionString(name), null);
        }
        var local = builder.AddLocalRedis(name, Path.Combine(dataDirectory, name), LocalPassword(builder, dataDirectory, $"{name}-password"));
        return (local, local);
    }

    /// <summary>conductordb, and whether a server runs for it (none when the connection string names an existing database).</summary>
    private static (IResourceBuilder<IResourceWithConnectionString> Database, IResourceBuilder<IResource>? Server) AddConductorDatabase(
        IDistributedApplicationBuilder builder, string dataDirectory)
    {
        const string server = "postgres", database = "conductordb";
        if (builder.ExecutionContext.IsPublishMode)
        {
            var container = builder.AddPostgres(server);
            return (container.AddDatabase(database), container);
        }
        if (!string.IsNullOrEmpty(builder.Configuration.GetConnectionString(database)))
        {
            return (builder.AddConnectionString(database), null);
        }
        var local = builder.AddLocalPostgres(server, Path.Combine(dataDirectory, server), LocalPassword(builder, dataDirectory, $"{server}-password"));
        return (local.AddDatabase(database), local);
    }

    /// <summary>
    /// A generated password kept in the data folder's secrets file (0600), so the next run opens the same data;
    /// <c>Parameters__{name}</c> overrides it, as for any Aspire parameter.
    /// </summary>
    private static IResourceBuilder<ParameterResource> LocalPassword(IDistributedApplicationBuilder builder, string dataDirectory, string name)
    {
        if (!string.IsNullOrEmpty(builder.Configuration[$"Parameters:{name}"]))
        {
            return builder.AddParameter(name, secret: true);
        }
        var secrets = new SecretStore(Path.Combine(dataDirectory, "secrets.json"));
        return builder.AddParameter(name, secrets.GetOrCreate(name), secret: true);
    }

    private static void AddAiProvider(IDistributedApplicationBuilder builder, IResourceBuilder<ProjectResource> api, string kind, string model)
    {
        var parameterName = $"{kind}-api-key";
        IResourceBuilder<ParameterResource> key;
        if (builder.ExecutionContext.IsRunMode)
        {
            // Without a key a local run leaves the provider out, so the Api never probes a public endpoint it
            // cannot use (and the dashboard does not ask for a value).
            if (string.IsNullOrEmpty(builder.Configuration[$"Parameters:{parameterName}"]))
            {
                return;
            }
            key = builder.AddParameter(parameterName, secret: true);
        }
        else
        {
            // A deployment asks for the key; an empty one (the default) leaves the provider unused.
            key = builder.AddParameter(parameterName, new EmptyParameterDefault(), secret: true);
        }
        api.WithEnvironment($"Ai__Providers__{kind}__Kind", kind)
            .WithEnvironment($"Ai__Providers__{kind}__Model", builder.Configuration[$"Parameters:{kind}-model"] ?? model)
            .WithEnvironment($"Ai__Providers__{kind}__ApiKey", key);
    }
}
