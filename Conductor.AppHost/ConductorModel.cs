using Conductor.Hosting;
using Conductor.Hosting.ApplicationModel;

namespace Conductor.AppHost;

/// <summary>
/// Conductor's topology, in Aspire's app model. Program.cs runs or publishes it; the whole-system tests start
/// it in isolation (the role Aspire.Hosting.Testing plays).
/// </summary>
public static class ConductorModel
{
    public static void Define(IDistributedApplicationBuilder builder)
    {
        var redis = builder.AddRedis("redis");
        var postgres = builder.AddPostgres("postgres");
        var conductorDb = postgres.AddDatabase("conductordb");

        // The Api reads and writes the worktrees the GitWorker clones: both get the same workspace folder.
        const string workspacesRoot = "Workspaces__Root";
        var api = builder.AddProject("api", "../Conductor.Api/Conductor.Api.csproj")
            .WithHttpEndpoint(port: 5080)
            .WithExternalHttpEndpoints()
            .WithReference(redis)
            .WithReference(conductorDb)
            .WithDataDirectoryEnvironment(workspacesRoot, "workspaces")
            .WaitFor(redis)
            .WaitFor(conductorDb);
        if (builder.ExecutionContext.IsRunMode)
        {
            // Local runs sign in by name (POST /auth/dev); a deployment never does, so this stays out of the manifest.
            api.WithEnvironment("Auth__DevLogin", "true");
        }

        var gitworker = builder.AddProject("gitworker", "../Conductor.GitWorker/Conductor.GitWorker.csproj")
            .WithReference(redis)
            .WithDataDirectoryEnvironment(workspacesRoot, "workspaces")
            .WithReference(conductorDb)
            .WaitFor(redis)
            .WaitFor(conductorDb);

        if (builder.ExecutionContext.IsRunMode)
        {
            // On a developer's machine a workspace may come from a local path, a file:// URL or a git server on the
            // LAN; a deployment keeps the defaults (public https only: no SSRF into the private network).
            foreach (var project in new[] { api, gitworker })
            {
                project.WithEnvironment("Workspaces__AllowHttp", "true")
                    .WithEnvironment("Workspaces__AllowFile", "true")
                    .WithEnvironment("Workspaces__AllowPrivateNetworks", "true");
            }
        }

        var web = builder.AddProject("web", "../Conductor.Web/Conductor.Web.csproj")
            .WithHttpEndpoint(port: 5090)
            .WithExternalHttpEndpoints()
            .WithReference(api)
            .WaitFor(api);

        // The Api links to the web app (invites) and answers CORS for its origin; no WaitFor, so no cycle.
        api.WithReference(web);

        // AI providers beyond the built-in offline mock, each active once its key is given: locally as
        // Parameters__openai-api-key (environment or user secrets), in a deployment as the secret azd keeps.
        AddAiProvider(builder, api, "openai", model: "gpt-4o-mini");
        AddAiProvider(builder, api, "anthropic", model: "claude-sonnet-4-5");
    }

    private static void AddAiProvider(IDistributedApplicationBuilder builder, ResourceBuilder<ProjectResource> api, string kind, string model)
    {
        var key = builder.AddParameter($"{kind}-api-key", secret: true, defaultValue: "");
        // Without a key a local run leaves the provider out, so the Api never probes a public endpoint it cannot use.
        if (builder.ExecutionContext.IsRunMode && string.IsNullOrEmpty(builder.GetParameterValue(key.Resource)))
        {
            return;
        }
        api.WithEnvironment($"Ai__Providers__{kind}__Kind", kind)
            .WithEnvironment($"Ai__Providers__{kind}__Model", builder.Configuration[$"Parameters:{kind}-model"] ?? model)
            .WithEnvironment($"Ai__Providers__{kind}__ApiKey", key);
    }
}
