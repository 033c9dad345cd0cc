using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conductor.LocalServers;
using Conductor.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Conductor.Tests.ServiceDefaults;

public sealed class ServiceDefaultsTests
{
    [Fact]
    public async Task Traces_metrics_and_logs_are_exported_over_otlp_when_an_endpoint_is_configured()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        var (web, url) = await ServiceInstance.StartListeningAsync("Conductor.Web", new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Url,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_SERVICE_NAME"] = "web-under-test",
            // Export quickly so the test does not wait for the default 5 s / 60 s intervals.
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "200",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
        });
        await using var _ = web;

        using var http = new HttpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!collector.Received.ContainsKey("/v1/traces") || !collector.Received.ContainsKey("/v1/metrics") || !collector.Received.ContainsKey("/v1/logs"))
        {
            // Not /health: as in Aspire's template, health probes are left out of the traces.
            await http.GetAsync(new Uri(url, "/otlp-probe"), timeout.Token);
            await Task.Delay(200, timeout.Token);
        }

        // The service name travels in the resource attributes of every export.
        Assert.Contains(collector.Bodies, body => body.Contains("web-under-test", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Health_and_liveness_answer_and_errors_are_problem_details()
    {
        var (web, url) = await ServiceInstance.StartListeningAsync("Conductor.Web", new Dictionary<string, string?>());
        await using var _ = web;
        using var http = new HttpClient();

        var health = await http.GetFromJsonAsync<JsonElement>(new Uri(url, "/health"));
        Assert.Equal("Healthy", health.GetProperty("status").GetString());
        var alive = await http.GetAsync(new Uri(url, "/alive"));
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);

        var missing = await http.GetAsync(new Uri(url, "/no-such-thing"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        var problem = await missing.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(404, problem.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Sigterm_shuts_a_service_down_gracefully()
    {
        var (web, _) = await ServiceInstance.StartListeningAsync("Conductor.Web", new Dictionary<string, string?>());
        await web.DisposeAsync();
        Assert.Contains("Application is shutting down", web.Output);
    }

    /// <summary>An OTLP/HTTP receiver on 127.0.0.1 that records what arrives at /v1/traces, /v1/metrics and /v1/logs.</summary>
    private sealed class FakeOtlpCollector : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private FakeOtlpCollector(WebApplication app, string url)
        {
            _app = app;
            Url = url;
        }

        public string Url { get; }
        public ConcurrentDictionary<string, int> Received { get; } = new();
        public ConcurrentBag<string> Bodies { get; } = [];

        public static async Task<FakeOtlpCollector> StartAsync()
        {
            var port = FreePort.Next();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
            var app = builder.Build();
            var collector = new FakeOtlpCollector(app, $"http://127.0.0.1:{port}");
            app.MapPost("/v1/{signal}", async (string signal, HttpContext context) =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                collector.Received.AddOrUpdate("/v1/" + signal, 1, (_, count) => count + 1);
                collector.Bodies.Add(System.Text.Encoding.Latin1.GetString(body.ToArray()));
                // An empty protobuf Export*ServiceResponse.
                context.Response.ContentType = "application/x-protobuf";
                return Results.Ok();
            });
            await app.StartAsync();
            return collector;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
