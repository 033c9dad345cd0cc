using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Aspire's service defaults (telemetry, health checks, problem details, graceful shutdown), built on the core
/// OpenTelemetry SDK because OpenTelemetry.Extensions.Hosting and the instrumentation packages are not in the
/// registry these machines reach. ASP.NET Core, HttpClient and the runtime emit activities and meters natively.
/// </summary>
public static class Extensions
{
    public const string LivenessTag = "live";
    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";

    /// <summary>Activity sources traced in every service; features add their own with <see cref="TelemetrySources"/>.</summary>
    public static readonly string[] DefaultActivitySources = ["Microsoft.AspNetCore", "System.Net.Http", "Conductor.*"];

    /// <summary>Meters collected in every service.</summary>
    public static readonly string[] DefaultMeters =
    [
        "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Http.Connections",
        "Microsoft.AspNetCore.Routing", "Microsoft.AspNetCore.Diagnostics", "Microsoft.AspNetCore.RateLimiting",
        "System.Net.Http", "System.Net.NameResolution", "System.Runtime", "Conductor.*",
    ];

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddProblemDetails();

        // Graceful shutdown: in-flight requests and jobs get time to finish after SIGTERM before the host stops.
        builder.Services.Configure<HostOptions>(options =>
            options.ShutdownTimeout = builder.Configuration.GetValue<TimeSpan?>("Host:ShutdownTimeout") ?? TimeSpan.FromSeconds(10));
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] ?? builder.Environment.ApplicationName;
        var otlpEndpoint = builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        var exportOverOtlp = !string.IsNullOrWhiteSpace(otlpEndpoint);

        void ConfigureResource(ResourceBuilder resource) =>
            resource.AddService(serviceName).AddEnvironmentVariableDetector();

        builder.Logging.AddOpenTelemetry(logging =>
        {
            var resource = ResourceBuilder.CreateDefault();
            ConfigureResource(resource);
            logging.SetResourceBuilder(resource);
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
            if (exportOverOtlp)
            {
                logging.AddOtlpExporter();
            }
        });

        builder.Services.AddSingleton(_ =>
        {
            var tracing = Sdk.CreateTracerProviderBuilder()
                .ConfigureResource(ConfigureResource)
                .AddSource(DefaultActivitySources);
            if (exportOverOtlp)
            {
                tracing.AddOtlpExporter();
            }
            return new TelemetryProviders(tracing.Build(), BuildMeterProvider());
        });

        MeterProvider BuildMeterProvider()
        {
            var metrics = Sdk.CreateMeterProviderBuilder()
                .ConfigureResource(ConfigureResource)
                .AddMeter(DefaultMeters);
            if (exportOverOtlp)
            {
                metrics.AddOtlpExporter();
            }
            return metrics.Build();
        }

        // Providers listen from start-up (so the first request is traced) and flush on shutdown.
        builder.Services.AddHostedService<TelemetryLifetime>();
        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
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

    private sealed class TelemetryLifetime(TelemetryProviders providers) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken)
        {
            providers.TracerProvider.ForceFlush(2000);
            providers.MeterProvider.ForceFlush(2000);
            return Task.CompletedTask;
        }
    }
}

/// <summary>The process's tracer and meter providers; disposed (and so flushed) with the service provider.</summary>
public sealed class TelemetryProviders(TracerProvider tracerProvider, MeterProvider meterProvider) : IDisposable
{
    public TracerProvider TracerProvider { get; } = tracerProvider;
    public MeterProvider MeterProvider { get; } = meterProvider;

    public void Dispose()
    {
        TracerProvider.Dispose();
        MeterProvider.Dispose();
    }
}
