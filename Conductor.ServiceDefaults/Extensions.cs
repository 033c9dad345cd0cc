using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Aspire's service defaults, as its template writes them: OpenTelemetry (ASP.NET Core, HttpClient and runtime
/// instrumentation plus Conductor's own sources and meters, exported over OTLP when an endpoint is set), service
/// discovery and the standard resilience handler for every HttpClient, and the /health and /alive endpoints.
/// Conductor adds problem details for errors and a graceful-shutdown window.
/// </summary>
public static class Extensions
{
    public const string LivenessTag = "live";
    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";

    /// <summary>Conductor's own activity sources and meters: every one is named <c>Conductor.*</c>.</summary>
    public const string ConductorTelemetryPrefix = "Conductor.*";

    /// <summary>The named HttpClients OpenTelemetry's OTLP exporter asks IHttpClientFactory for.</summary>
    private static readonly string[] OtlpExporterClients = ["OtlpTraceExporter", "OtlpMetricExporter", "OtlpLogExporter"];

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            // Retries, timeouts and a circuit breaker for every HttpClient, as Aspire's template does.
            http.AddStandardResilienceHandler();
            // Lets an HttpClient address another resource as http://api (the AppHost's services__ variables).
            http.AddServiceDiscovery();
        });

        // The OTLP exporter sends through IHttpClientFactory's named clients, so the standard handler above wraps it
        // too: when the dashboard (its collector) stops first, the retries kept a stopping service alive for ~15 s
        // (measured). Telemetry has its own timeout and drops what it cannot send; it needs no resilience.
        // RemoveAllResilienceHandlers is marked experimental (EXTEXP0001); it is the package's documented way to
        // exempt one client from the defaults.
#pragma warning disable EXTEXP0001
        foreach (var exporterClient in OtlpExporterClients)
        {
            builder.Services.AddHttpClient(exporterClient).RemoveAllResilienceHandlers();
        }
#pragma warning restore EXTEXP0001

        builder.Services.AddProblemDetails();

        // Graceful shutdown: in-flight requests and jobs get time to finish after SIGTERM before the host stops.
        builder.Services.Configure<HostOptions>(options =>
            options.ShutdownTimeout = builder.Configuration.GetValue<TimeSpan?>("Host:ShutdownTimeout") ?? TimeSpan.FromSeconds(10));
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        // Aspire.Npgsql hands Npgsql the logger factory, and Npgsql logs every command it runs at Information. The
        // traces already carry each command (Npgsql's activity source), so the log would only repeat them; set
        // Logging:LogLevel:Npgsql.Command to see them anyway.
        if (builder.Configuration["Logging:LogLevel:Npgsql.Command"] is null)
        {
            builder.Logging.AddFilter("Npgsql.Command", LogLevel.Warning);
        }

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(ConductorTelemetryPrefix))
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName, ConductorTelemetryPrefix)
                .AddAspNetCoreInstrumentation(options =>
                    // Health probes every few seconds would drown the traces that matter.
                    options.Filter = context =>
                        !context.Request.Path.StartsWithSegments(HealthEndpointPath)
                        && !context.Request.Path.StartsWithSegments(AlivenessEndpointPath))
                .AddHttpClientInstrumentation());

        builder.AddOpenTelemetryExporters();
        return builder;
    }

    private static TBuilder AddOpenTelemetryExporters<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }
        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            // The "live" tag: /alive answers whether the process runs, without its dependencies.
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LivenessTag]);
        return builder;
    }

    /// <summary>
    /// Errors as RFC 7807 problem details: unhandled exceptions become a 500 without internals, and empty error
    /// responses (404, 405, ...) get a problem body. Call it first, so it wraps everything after it.
    /// </summary>
    public static WebApplication UseServiceDefaults(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }

    /// <summary>
    /// <c>/health</c> runs every registered check (Postgres and Redis included); <c>/alive</c> only the liveness ones.
    /// Both answer without authentication, as orchestrators and load balancers expect.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthEndpointPath, new HealthCheckOptions { ResponseWriter = HealthResponseWriter.WriteAsync })
            .AllowAnonymous();
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = registration => registration.Tags.Contains(LivenessTag),
            ResponseWriter = HealthResponseWriter.WriteAsync,
        }).AllowAnonymous();
        return app;
    }
}
