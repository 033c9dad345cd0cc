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

        builder.AddProject("gitworker", "../Conductor.GitWorker/Conductor.GitWorker.csproj")
            .WithReference(redis)
            .WithDataDirectoryEnvironment(workspacesRoot, "workspaces")
            .WithReference(conductorDb)
            .WaitFor(redis)
            .WaitFor(conductorDb);

        var web = builder.AddProject("web", "../Conductor.Web/Conductor.Web.csproj")
            .WithHttpEndpoint(port: 5090)
            .WithExternalHttpEndpoints()
            .WithReference(api)
            .WaitFor(api);

        // The Api links to the web app (invites) and answers CORS for its origin; no WaitFor, so no cycle.
        api.WithReference(web);
    }
}
