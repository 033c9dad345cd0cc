using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Conductor.AppHost;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Hosting;

/// <summary>The whole system, started from the real AppHost by Aspire.Hosting.Testing (DCP, local servers, projects).</summary>
public sealed class AppHostTests : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private static readonly string[] Resources = ["redis", "postgres", "conductordb", "api", "gitworker", "web"];
    private readonly string _dataDirectory = TestDirectories.Create("apphost");

    private async Task<DistributedApplication> StartAsync(CancellationToken cancellationToken)
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Conductor_AppHost>(
            [$"{ConductorModel.DataDirectoryKey}={_dataDirectory}"], cancellationToken);
        var app = await builder.BuildAsync(cancellationToken);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        return app;
    }

    [Fact]
    public async Task Every_resource_comes_up_healthy_and_the_api_and_web_app_are_wired_together()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        await using var app = await StartAsync(timeout.Token);
        await Task.WhenAll(Resources.Select(name => app.ResourceNotifications.WaitForResourceHealthyAsync(name, timeout.Token)));

        // The Api's /health runs the Aspire.Npgsql and Redis checks against the servers the AppHost started.
        using var api = app.CreateHttpClient("api");
        var health = await api.GetFromJsonAsync<JsonElement>("/health", timeout.Token);
        Assert.Equal("Healthy", health.GetProperty("status").GetString());

        // The web app finds the Api the Aspire way (services__api__http__0) and forwards /api/** to it: same origin.
        using var web = app.CreateHttpClient("web");
        var proxiedHealth = await web.GetFromJsonAsync<JsonElement>("/api/health", timeout.Token);
        Assert.Equal("Healthy", proxiedHealth.GetProperty("status").GetString());

        // The browser app calls the Api across origins: the Api answers CORS for the web app's origin only.
        var webOrigin = app.GetEndpoint("web").GetLeftPart(UriPartial.Authority);
        using (var preflight = new HttpRequestMessage(HttpMethod.Options, "/rooms"))
        {
            preflight.Headers.Add("Origin", webOrigin);
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            preflight.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
            using var allowed = await api.SendAsync(preflight, timeout.Token);
            Assert.Equal(webOrigin, allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        }
        using (var foreign = new HttpRequestMessage(HttpMethod.Options, "/rooms"))
        {
            foreign.Headers.Add("Origin", "http://evil.example");
            foreign.Headers.Add("Access-Control-Request-Method", "POST");
            using var refused = await api.SendAsync(foreign, timeout.Token);
            Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
        }

        // A local run signs in by name, against the conductordb the AppHost created.
        using var signIn = await api.PostAsJsonAsync("/auth/dev", new { login = "apphost-tester" }, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);

        var openApi = await api.GetFromJsonAsync<JsonElement>("/openapi/v1.json", timeout.Token);
        Assert.StartsWith("3.", openApi.GetProperty("openapi").GetString(), StringComparison.Ordinal);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        TestDirectories.TryDelete(_dataDirectory);
        return Task.CompletedTask;
    }
}
