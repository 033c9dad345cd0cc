using System.Diagnostics;
using System.Text.Json;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Hosting;

public sealed class ManifestTests
{
    [Fact]
    public async Task Publisher_output_equals_the_committed_manifest()
    {
        // Written beside the committed file so relative project paths come out the same; git-ignored.
        var output = Path.Combine(RepositoryPaths.Root, $"aspire-manifest.check-{Guid.NewGuid():N}.json");
        try
        {
            var (exitCode, log) = await RunAppHostAsync("--publisher", "manifest", "--output-path", output);
            Assert.True(exitCode == 0, log);
            var committed = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, "aspire-manifest.json"));
            Assert.True(committed == await File.ReadAllTextAsync(output),
                "aspire-manifest.json is out of date: run `dotnet run --project Conductor.AppHost --publisher manifest --output-path aspire-manifest.json` and commit it.");
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Fact]
    public async Task Manifest_declares_every_resource_the_way_azd_expects()
    {
        using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, "aspire-manifest.json")));
        var root = manifest.RootElement;
        var resources = root.GetProperty("resources");
        string TypeOf(string name) => resources.GetProperty(name).GetProperty("type").GetString()!;

        Assert.Equal("container.v0", TypeOf("redis"));
        Assert.Equal("container.v0", TypeOf("postgres"));
        Assert.Equal("value.v0", TypeOf("conductordb"));
        Assert.Contains(TypeOf("api"), new[] { "project.v0", "project.v1" });
        Assert.Contains(TypeOf("gitworker"), new[] { "project.v0", "project.v1" });
        Assert.Contains(TypeOf("web"), new[] { "project.v0", "project.v1" });

        // azd accepts only these resource types.
        string[] accepted = ["project.v0", "project.v1", "container.v0", "container.v1", "dockerfile.v0", "parameter.v0", "value.v0", "annotated.string"];
        foreach (var resource in resources.EnumerateObject())
        {
            Assert.Contains(resource.Value.GetProperty("type").GetString(), accepted);
        }

        Assert.Equal(6379, resources.GetProperty("redis").GetProperty("bindings").GetProperty("tcp").GetProperty("targetPort").GetInt32());
        Assert.Equal(5432, resources.GetProperty("postgres").GetProperty("bindings").GetProperty("tcp").GetProperty("targetPort").GetInt32());
        Assert.StartsWith("docker.io/library/postgres:", resources.GetProperty("postgres").GetProperty("image").GetString());
        Assert.StartsWith("docker.io/library/redis:", resources.GetProperty("redis").GetProperty("image").GetString());

        foreach (var secret in new[] { "redis-password", "postgres-password" })
        {
            var input = resources.GetProperty(secret).GetProperty("inputs").GetProperty("value");
            Assert.Equal("parameter.v0", TypeOf(secret));
            Assert.True(input.GetProperty("secret").GetBoolean());
            Assert.True(input.GetProperty("default").GetProperty("generate").GetProperty("minLength").GetInt32() >= 16);
        }

        var api = resources.GetProperty("api");
        Assert.Equal("Conductor.Api/Conductor.Api.csproj", api.GetProperty("path").GetString());
        Assert.Equal("{redis.connectionString}", api.GetProperty("env").GetProperty("ConnectionStrings__redis").GetString());
        // Only what the services read: no REDIS_URI, CONDUCTORDB_PASSWORD and the like.
        Assert.DoesNotContain(api.GetProperty("env").EnumerateObject(), variable => variable.Value.GetString()!.Contains("password", StringComparison.Ordinal));
        Assert.Equal("{conductordb.connectionString}", api.GetProperty("env").GetProperty("ConnectionStrings__conductordb").GetString());
        Assert.True(api.GetProperty("bindings").GetProperty("http").GetProperty("external").GetBoolean());
        Assert.True(resources.GetProperty("web").GetProperty("bindings").GetProperty("http").GetProperty("external").GetBoolean());
        Assert.Equal("{api.bindings.http.url}", resources.GetProperty("web").GetProperty("env").GetProperty("services__api__http__0").GetString());
        Assert.False(resources.GetProperty("gitworker").GetProperty("bindings").GetProperty("http").TryGetProperty("external", out _));
        Assert.Equal("{postgres.connectionString};Database=conductordb", resources.GetProperty("conductordb").GetProperty("connectionString").GetString());
    }

    [Fact]
    public async Task Committed_manifest_is_valid_against_the_aspire_8_schema()
    {
        var (isValid, errors) = await AspireManifestSchema.CheckAsync(await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, "aspire-manifest.json")));

        Assert.True(isValid, "aspire-manifest.json breaks the aspire-8.0 schema:\n" + errors);
    }

    [Fact]
    public async Task The_schema_check_refuses_the_redis_binding_scheme_aspire_writes_by_default()
    {
        // Why the model sets the Redis binding's scheme to tcp: Aspire 13's default "redis" is outside the schema.
        var (isValid, errors) = await AspireManifestSchema.CheckAsync("""
            { "resources": { "redis": { "type": "container.v0", "image": "docker.io/library/redis:8.6",
              "bindings": { "tcp": { "scheme": "redis", "protocol": "tcp", "transport": "tcp" } } } } }
            """);

        Assert.False(isValid);
        Assert.Contains("\"redis\"", errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_schema_check_refuses_a_project_without_its_path()
    {
        var (isValid, errors) = await AspireManifestSchema.CheckAsync("""
            { "resources": { "api": { "type": "project.v0", "env": {} } } }
            """);

        Assert.False(isValid);
        Assert.Contains("'path'", errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Azure_yaml_points_azd_at_the_apphost()
    {
        var azure = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, "azure.yaml"));
        Assert.Contains("project: ./Conductor.AppHost/Conductor.AppHost.csproj", azure);
        Assert.Contains("host: containerapp", azure);
        // azd recognises an AppHost by the Aspire.AppHost.Sdk (which sets IsAspireHost).
        var appHost = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, "Conductor.AppHost", "Conductor.AppHost.csproj"));
        Assert.Contains("Sdk=\"Aspire.AppHost.Sdk/", appHost, StringComparison.Ordinal);
    }

    internal static Task<(int ExitCode, string Output)> RunAppHostAsync(params string[] arguments) =>
        RunAppHostAsync(new Dictionary<string, string>(), arguments);

    internal static async Task<(int ExitCode, string Output)> RunAppHostAsync(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (name, value) in environment)
        {
            startInfo.Environment[name] = value;
        }
        startInfo.ArgumentList.Add(RepositoryPaths.AppHostAssembly);
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        using var process = Process.Start(startInfo)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }
}
