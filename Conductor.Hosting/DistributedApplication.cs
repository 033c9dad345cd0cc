using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Conductor.Hosting.ApplicationModel;
using Conductor.Hosting.Dashboard;
using Conductor.Hosting.Orchestration;
using Conductor.Hosting.Provisioning;
using Conductor.Hosting.Publishing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Conductor.Hosting;

/// <summary>The data folder is in use by another AppHost run.</summary>
public sealed class AppHostAlreadyRunningException(string message) : Exception(message);

/// <summary>
/// Runs the model: in run mode it provisions Postgres and Redis, starts each project once what it waits for is
/// healthy, serves the dashboard, and stops everything on Ctrl+C or SIGTERM; in publish mode it writes the manifest.
/// </summary>
public sealed class DistributedApplication : IAsyncDisposable
{
    private readonly DistributedApplicationBuilder _builder;
    private readonly DistributedApplicationOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<ResourceRuntime> _runtimes = [];
    private readonly List<Task> _background = [];
    private DashboardServer? _dashboard;
    private FileStream? _lock;
    private int _stopped;

    internal DistributedApplication(DistributedApplicationBuilder builder, DistributedApplicationOptions options)
    {
        _builder = builder;
        _options = options;
        _loggerFactory = LoggerFactory.Create(logging => logging
            .AddSimpleConsole(console => { console.SingleLine = true; console.TimestampFormat = "HH:mm:ss "; })
            .SetMinimumLevel(LogLevel.Information)
            .AddFilter("Microsoft.AspNetCore", LogLevel.Warning));
        _logger = _loggerFactory.CreateLogger("Conductor.AppHost");
    }

    public DistributedApplicationExecutionContext ExecutionContext => _builder.ExecutionContext;
    public string? DashboardUrl => _dashboard?.Url;
    public string DataDirectory { get; private set; } = "";
    public IReadOnlyList<ResourceRuntime> Runtimes => _runtimes;

    /// <summary>Free ports everywhere, so a test run can overlap a developer's run (<c>AppHost__RandomizePorts</c>).</summary>
    private bool RandomizePorts => _options.RandomizePorts || _builder.Configuration.GetValue("AppHost:RandomizePorts", false);

    /// <summary>Runs until Ctrl+C or SIGTERM (run mode), or writes the manifest and returns (publish mode).</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        if (ExecutionContext.IsPublishMode)
        {
            return Publish();
        }

        using var shutdown = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void RequestShutdown(PosixSignalContext context)
        {
            context.Cancel = true; // we stop the children ourselves, then return from Main
            shutdown.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, RequestShutdown);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, RequestShutdown);
        using var sigquit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, RequestShutdown);

        try
        {
            await StartAsync(shutdown.Token).ConfigureAwait(false);
            _logger.LogInformation("Dashboard: {DashboardUrl}  (Ctrl+C stops everything)", DashboardUrl);
            await Task.Delay(Timeout.Infinite, shutdown.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is AppHostAlreadyRunningException or ProvisioningException)
        {
            _logger.LogError("{Message}", ex.Message);
            await StopAsync().ConfigureAwait(false);
            return 1;
        }
        _logger.LogInformation("Stopping…");
        await StopAsync().ConfigureAwait(false);
        _logger.LogInformation("Stopped; data kept in {DataDirectory}", DataDirectory);
        return 0;
    }

    private int Publish()
    {
        if (ExecutionContext.PublisherName != "manifest")
        {
            _logger.LogError("Unknown publisher '{Publisher}'; the only one is 'manifest'.", ExecutionContext.PublisherName);
            return 1;
        }
        var outputPath = ExecutionContext.OutputPath;
        if (string.IsNullOrEmpty(outputPath))
        {
            _logger.LogError("--output-path is required with --publisher manifest.");
            return 1;
        }
        outputPath = Path.GetFullPath(outputPath);
        if (Directory.Exists(outputPath))
        {
            outputPath = Path.Combine(outputPath, "aspire-manifest.json");
        }
        Directory.CreateDirectory(Path.GetDirectoryName(outputPath)!);
        File.WriteAllText(outputPath, ManifestPublisher.Write(_builder.Resources, Path.GetDirectoryName(outputPath)!));
        System.Console.WriteLine($"Published manifest to: {outputPath}");
        return 0;
    }

    /// <summary>Starts the dashboard and every resource; returns without waiting for them to become healthy.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        DataDirectory = Path.GetFullPath(_options.DataDirectory
            ?? _builder.Configuration["AppHost:DataDirectory"]
            ?? Path.Combine(Path.GetDirectoryName(_builder.AppHostDirectory.TrimEnd(Path.DirectorySeparatorChar))!, ".conductor"));
        Directory.CreateDirectory(DataDirectory);
        AcquireLock();

        var secrets = new SecretStore(Path.Combine(DataDirectory, "secrets.json"));
        CreateRuntimes(secrets);

        _dashboard = new DashboardServer(this, _loggerFactory.CreateLogger("Conductor.Dashboard"));
        await _dashboard.StartAsync(_builder.Configuration["Dashboard:Url"], RandomizePorts, cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(DataDirectory, "apphost.json"),
            JsonSerializer.Serialize(new { pid = Environment.ProcessId, dashboard = _dashboard.Url }), cancellationToken).ConfigureAwait(false);

        foreach (var runtime in _runtimes)
        {
            _background.Add(Task.Run(() => StartWhenReadyAsync(runtime, _stopping.Token), CancellationToken.None));
        }
    }

    private void AcquireLock()
    {
        var lockPath = Path.Combine(DataDirectory, "apphost.lock");
        try
        {
            // FileShare.None takes an exclusive flock on Unix: a second AppHost on this folder fails here.
            _lock = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            var running = "";
            try
            {
                using var info = JsonDocument.Parse(File.ReadAllText(Path.Combine(DataDirectory, "apphost.json")));
                running = $" (pid {info.RootElement.GetProperty("pid")}, dashboard {info.RootElement.GetProperty("dashboard").GetString()})";
            }
            catch (Exception ex) when (ex is IOException or JsonException or KeyNotFoundException or InvalidOperationException)
            {
            }
            throw new AppHostAlreadyRunningException(
                $"Conductor is already running with the data folder {DataDirectory}{running}; stop it first (Ctrl+C in its terminal).");
        }
    }

    private void CreateRuntimes(SecretStore secrets)
    {
        var configuration = _builder.Configuration;
        var runtimesByResource = new Dictionary<Resource, ResourceRuntime>();
        var usedPorts = new HashSet<int>();

        foreach (var resource in _builder.Resources)
        {
            var logger = _loggerFactory.CreateLogger($"Conductor.AppHost.{resource.Name}");
            ResourceRuntime? runtime = resource switch
            {
                RedisResource redis => new RedisRuntime(redis, Path.Combine(DataDirectory, redis.Name),
                    secrets.GetOrCreate(redis.Password.Name), configuration.GetConnectionString(redis.Name), logger),
                PostgresServerResource postgres => new PostgresRuntime(postgres, Path.Combine(DataDirectory, postgres.Name),
                    secrets.GetOrCreate(postgres.Password.Name), _options.DurableData,
                    external: postgres.Databases.Count > 0 && postgres.Databases.All(d => !string.IsNullOrEmpty(configuration.GetConnectionString(d.Name))),
                    logger),
                PostgresDatabaseResource database => new PostgresDatabaseRuntime(database, (PostgresRuntime)runtimesByResource[database.Server],
                    configuration.GetConnectionString(database.Name), logger),
                ProjectResource project => CreateProjectRuntime(project, usedPorts, runtimesByResource, logger),
                _ => null, // parameters have no runtime: their values live in the secret store
            };
            if (runtime is null)
            {
                continue;
            }
            runtimesByResource[resource] = runtime;
            _runtimes.Add(runtime);
            if (configuration.GetValue("AppHost:ShowResourceLogs", false))
            {
                runtime.Console.LineAppended += line => System.Console.WriteLine($"[{runtime.Name}] {line.Text}");
            }
        }
    }

    private ProjectRuntime CreateProjectRuntime(ProjectResource project, HashSet<int> usedPorts,
        Dictionary<Resource, ResourceRuntime> runtimes, ILogger logger)
    {
        var targetPath = _builder.AppHostAssembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>()
            .Where(a => a.Key.StartsWith(AppHostMetadata.ProjectTargetPathPrefix, StringComparison.Ordinal))
            .FirstOrDefault(a => Path.GetFullPath(a.Key[AppHostMetadata.ProjectTargetPathPrefix.Length..]) == project.ProjectPath)?.Value
            ?? throw new InvalidOperationException(
                $"{project.ProjectPath} is not a project reference of the AppHost; add it with IsAspireProjectResource=\"true\".");

        var ports = new Dictionary<string, int>();
        foreach (var endpoint in project.Endpoints)
        {
            var port = !RandomizePorts && endpoint.Port is { } preferred && !usedPorts.Contains(preferred) && FreePort.IsFree(preferred)
                ? preferred
                : FreePort.Next();
            if (endpoint.Port is { } wanted && port != wanted && !RandomizePorts)
            {
                logger.LogWarning("Port {Port} for {Resource} is taken; using {FreePort}", wanted, project.Name, port);
            }
            usedPorts.Add(port);
            ports[endpoint.Name] = port;
        }

        var instanceId = Guid.NewGuid().ToString("N");
        IReadOnlyDictionary<string, string> Environment()
        {
            var configuration = _builder.Configuration;
            var environmentName = configuration["AppHost:Environment"] ?? "Development";
            var variables = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["ASPNETCORE_URLS"] = string.Join(';', ports.Values.Select(p => $"http://127.0.0.1:{p.ToString(CultureInfo.InvariantCulture)}")),
                ["ASPNETCORE_ENVIRONMENT"] = environmentName,
                ["DOTNET_ENVIRONMENT"] = environmentName,
                ["OTEL_SERVICE_NAME"] = project.Name,
                ["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={instanceId}",
                ["OTEL_DOTNET_EXPERIMENTAL_OTLP_EMIT_EXCEPTION_LOG_ATTRIBUTES"] = "true",
                ["OTEL_DOTNET_EXPERIMENTAL_OTLP_EMIT_EVENT_LOG_ATTRIBUTES"] = "true",
                ["LOGGING__CONSOLE__FORMATTERNAME"] = "simple",
                ["LOGGING__CONSOLE__FORMATTEROPTIONS__TIMESTAMPFORMAT"] = "HH:mm:ss ",
            };
            // Telemetry is exported only when a collector is configured for the AppHost.
            if (configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] is { Length: > 0 } otlpEndpoint)
            {
                variables["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpEndpoint;
                variables["OTEL_EXPORTER_OTLP_PROTOCOL"] = configuration["OTEL_EXPORTER_OTLP_PROTOCOL"] ?? "grpc";
            }
            foreach (var reference in project.ConnectionStringReferences)
            {
                variables[$"ConnectionStrings__{reference.Name}"] = runtimes[(Resource)reference] switch
                {
                    RedisRuntime redis => redis.ConnectionString,
                    PostgresDatabaseRuntime database => database.ConnectionString,
                    PostgresRuntime server => server.Server.ConnectionString,
                    var other => throw new InvalidOperationException($"{other.Name} has no connection string."),
                };
            }
            foreach (var service in project.ServiceReferences)
            {
                var serviceRuntime = (ProjectRuntime)runtimes[service];
                foreach (var endpoint in service.Endpoints)
                {
                    variables[$"services__{service.Name}__{endpoint.Name}__0"] = serviceRuntime.UrlOf(endpoint.Name);
                }
            }
            foreach (var (name, value) in project.Environment)
            {
                variables[name] = value;
            }
            foreach (var (name, subfolder) in project.DataDirectoryEnvironment)
            {
                var folder = Path.Combine(DataDirectory, subfolder);
                Directory.CreateDirectory(folder);
                variables[name] = folder;
            }
            return variables;
        }

        return new ProjectRuntime(project, targetPath, ports, Environment, logger);
    }

    private async Task StartWhenReadyAsync(ResourceRuntime runtime, CancellationToken cancellationToken)
    {
        try
        {
            var dependencies = runtime.Resource.WaitsFor
                .Select(resource => _runtimes.FirstOrDefault(r => r.Resource == resource))
                .OfType<ResourceRuntime>()
                .ToList();
            if (dependencies.Count > 0)
            {
                runtime.SetState(ResourceState.Waiting);
                foreach (var dependency in dependencies)
                {
                    try
                    {
                        await dependency.WhenHealthy.WaitAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        throw new InvalidOperationException($"{dependency.Name} failed to start: {ex.Message}", ex);
                    }
                }
            }
            await runtime.StartAsync(cancellationToken).ConfigureAwait(false);
            await MonitorHealthAsync(runtime, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _logger.LogError("{Resource} failed to start: {Error}", runtime.Name, ex.Message);
            runtime.MarkStopped(ResourceState.Failed, ex.Message);
            runtime.FailWaiters(ex);
        }
    }

    private static async Task MonitorHealthAsync(ResourceRuntime runtime, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            if (runtime.State is ResourceState.Running)
            {
                runtime.ReportHealthCheck(await runtime.CheckHealthAsync(cancellationToken).ConfigureAwait(false));
            }
            var interval = runtime.Health == ResourceHealth.Healthy ? TimeSpan.FromSeconds(5) : TimeSpan.FromMilliseconds(250);
            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
        }
    }

    public ResourceRuntime GetRuntime(string name) =>
        _runtimes.FirstOrDefault(r => r.Name == name) ?? throw new KeyNotFoundException($"There is no resource named '{name}'.");

    public IReadOnlyList<ResourceSnapshot> GetResources() => [.. _runtimes.Select(r => r.Snapshot())];

    /// <summary>The URL of a project's endpoint, as tests find the Api (Aspire.Hosting.Testing's GetEndpoint).</summary>
    public Uri GetEndpoint(string resourceName, string endpointName = "http") =>
        GetRuntime(resourceName) is ProjectRuntime project
            ? new Uri(project.UrlOf(endpointName))
            : throw new InvalidOperationException($"{resourceName} is not a project.");

    public string GetConnectionString(string resourceName) => GetRuntime(resourceName) switch
    {
        RedisRuntime redis => redis.ConnectionString,
        PostgresDatabaseRuntime database => database.ConnectionString,
        PostgresRuntime server => server.Server.ConnectionString,
        _ => throw new InvalidOperationException($"{resourceName} has no connection string."),
    };

    public async Task WaitForResourceHealthyAsync(string resourceName, CancellationToken cancellationToken = default) =>
        await GetRuntime(resourceName).WhenHealthy.WaitAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Restarts one resource (the dashboard's restart button).</summary>
    public Task RestartResourceAsync(string resourceName, CancellationToken cancellationToken) =>
        GetRuntime(resourceName).RestartAsync(cancellationToken);

    /// <summary>Stops projects first (they hold connections), then databases and servers; keeps the data.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_background.Select(task => task.ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);

        await StopAllAsync(_runtimes.OfType<ProjectRuntime>()).ConfigureAwait(false);
        await StopAllAsync(_runtimes.OfType<PostgresDatabaseRuntime>()).ConfigureAwait(false);
        await StopAllAsync(_runtimes.Where(r => r is RedisRuntime or PostgresRuntime)).ConfigureAwait(false);

        if (_dashboard is not null)
        {
            await _dashboard.DisposeAsync().ConfigureAwait(false);
        }
        if (_lock is not null)
        {
            await _lock.DisposeAsync().ConfigureAwait(false);
            _lock = null;
        }
    }

    private async Task StopAllAsync(IEnumerable<ResourceRuntime> runtimes)
    {
        await Task.WhenAll(runtimes.Select(async runtime =>
        {
            try
            {
                await runtime.StopAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException)
            {
                _logger.LogWarning("Stopping {Resource} failed: {Error}", runtime.Name, ex.Message);
            }
        })).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _loggerFactory.Dispose();
    }
}
