using System.Reflection;
using System.Text.Json;
using Conductor.Hosting.Orchestration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Conductor.Hosting.Dashboard;

/// <summary>
/// The AppHost's dashboard: every resource with state, health, endpoints and live console output, a restart
/// button, and <c>GET /api/resources</c> for scripts and tests. It listens on loopback only; it answers only
/// requests addressed to a loopback host (no DNS rebinding), and a restart needs a custom header, which a
/// cross-site form or simple request cannot send.
/// </summary>
internal sealed class DashboardServer(DistributedApplication application, ILogger logger) : IAsyncDisposable
{
    public const string DefaultUrl = "http://localhost:18888";
    public const string ActionHeader = "X-Conductor-Dashboard";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private WebApplication? _app;

    public string Url { get; private set; } = DefaultUrl;

    public async Task StartAsync(string? configuredUrl, bool randomizePort, CancellationToken cancellationToken)
    {
        var url = new Uri(configuredUrl ?? DefaultUrl);
        var port = randomizePort ? 0 : url.Port;
        if (configuredUrl is null && !randomizePort && !Provisioning.FreePort.IsFree(port))
        {
            logger.LogWarning("Port {Port} is taken; the dashboard uses a free port instead", port);
            port = 0;
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, port));
        var app = builder.Build();
        Map(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var bound = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        Url = $"{url.Scheme}://{url.Host}:{bound.Port}";
        _app = app;
    }

    private void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var host = context.Request.Host.Host;
            if (host is not ("localhost" or "127.0.0.1" or "[::1]" or "::1"))
            {
                context.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
                return;
            }
            context.Response.Headers.XContentTypeOptions = "nosniff";
            context.Response.Headers["X-Frame-Options"] = "DENY";
            await next(context).ConfigureAwait(false);
        });

        app.MapGet("/", async context =>
        {
            context.Response.ContentType = "text/html; charset=utf-8";
            context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline' 'self'";
            await using var page = Assembly.GetExecutingAssembly().GetManifestResourceStream("dashboard.html")!;
            await page.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        });

        app.MapGet("/api/resources", () => Results.Json(application.GetResources(), Json));

        app.MapGet("/api/resources/{name}", (string name) =>
            application.Runtimes.FirstOrDefault(r => r.Name == name) is { } runtime
                ? Results.Json(runtime.Snapshot(), Json)
                : Results.Problem(statusCode: 404, title: $"There is no resource named '{name}'."));

        // Console output: the stored lines after `after`, then live lines as server-sent events.
        app.MapGet("/api/resources/{name}/logs", async (string name, long? after, HttpContext context) =>
        {
            var runtime = application.Runtimes.FirstOrDefault(r => r.Name == name);
            if (runtime is null)
            {
                await Results.Problem(statusCode: 404, title: $"There is no resource named '{name}'.").ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            if (!context.Request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.Ordinal))
            {
                await Results.Json(runtime.Console.Snapshot().Where(l => l.Sequence > (after ?? 0)), Json).ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            await foreach (var line in runtime.Console.FollowAsync(after ?? 0, context.RequestAborted).ConfigureAwait(false))
            {
                await context.Response.WriteAsync($"id: {line.Sequence}\ndata: {JsonSerializer.Serialize(line, Json)}\n\n", context.RequestAborted).ConfigureAwait(false);
                await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            }
        });

        app.MapPost("/api/resources/{name}/restart", async (string name, HttpContext context) =>
        {
            if (!context.Request.Headers.ContainsKey(ActionHeader))
            {
                return Results.Problem(statusCode: 403, title: $"Restarting needs the {ActionHeader} header.");
            }
            var runtime = application.Runtimes.FirstOrDefault(r => r.Name == name);
            if (runtime is null)
            {
                return Results.Problem(statusCode: 404, title: $"There is no resource named '{name}'.");
            }
            logger.LogInformation("Restarting {Resource} from the dashboard", name);
            // The restart outlives this request; its progress shows in the resource's state.
            _ = Task.Run(async () =>
            {
                try
                {
                    await application.RestartResourceAsync(name, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is InvalidOperationException or IOException or Provisioning.ProvisioningException)
                {
                    runtime.SetState(ResourceState.Failed, ex.Message);
                }
            });
            return Results.Accepted($"/api/resources/{name}");
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }
}
