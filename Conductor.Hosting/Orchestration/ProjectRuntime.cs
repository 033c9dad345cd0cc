using System.Globalization;
using Conductor.Hosting.ApplicationModel;
using Conductor.Hosting.Processes;
using Microsoft.Extensions.Logging;

namespace Conductor.Hosting.Orchestration;

/// <summary>A .NET project run as <c>dotnet &lt;its built dll&gt;</c> with Aspire's environment variables.</summary>
internal sealed class ProjectRuntime : ResourceRuntime
{
    private static readonly HttpClient HealthClient = new() { Timeout = TimeSpan.FromSeconds(3) };
    private readonly ProjectResource _project;
    private readonly string _targetPath;
    private readonly Func<IReadOnlyDictionary<string, string>> _environment;
    private ManagedProcess? _process;

    public ProjectRuntime(ProjectResource project, string targetPath, IReadOnlyDictionary<string, int> ports,
        Func<IReadOnlyDictionary<string, string>> environment, ILogger logger) : base(project, logger)
    {
        _project = project;
        _targetPath = targetPath;
        _environment = environment;
        Ports = ports;
    }

    /// <summary>Local port per endpoint name, chosen before anything starts so references can be resolved.</summary>
    public IReadOnlyDictionary<string, int> Ports { get; }

    public string UrlOf(string endpointName) =>
        $"http://127.0.0.1:{Ports[endpointName].ToString(CultureInfo.InvariantCulture)}";

    public override int? Pid => _process is { HasExited: false } process ? process.Id : null;

    public override IReadOnlyList<ResourceEndpoint> Endpoints => [.. _project.Endpoints.Select(e => new ResourceEndpoint(e.Name, UrlOf(e.Name)))];

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(_targetPath))
        {
            throw new InvalidOperationException($"{_project.Name}: {_targetPath} does not exist; build the solution first (dotnet build).");
        }
        SetState(ResourceState.Starting);
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (name, value) in _environment())
        {
            environment[name] = value;
        }
        var process = ManagedProcess.Start(new ProcessSpec(DotnetHost.Path, [_targetPath])
        {
            DisplayName = _project.Name,
            WorkingDirectory = Path.GetDirectoryName(_project.ProjectPath),
            Environment = environment,
        }, Console, Logger);
        _process = process;
        ExitCode = null;
        StartedAt = DateTimeOffset.UtcNow;
        SetState(ResourceState.Running);
        ReportUnexpectedExit(process.Exited, () => _process == process, _project.Name);
        return Task.CompletedTask;
    }

    public override async Task StopAsync()
    {
        var process = _process;
        if (process is null || process.HasExited)
        {
            if (State is ResourceState.Running or ResourceState.Starting)
            {
                SetState(ResourceState.Stopped);
            }
            return;
        }
        SetState(ResourceState.Stopping);
        await process.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        ExitCode = process.Exited.IsCompleted ? process.Exited.Result : null;
        SetState(ResourceState.Stopped);
        SetHealth(ResourceHealth.Unknown);
    }

    public override async Task<bool> CheckHealthAsync(CancellationToken cancellationToken)
    {
        if (_process is null || _process.HasExited)
        {
            return false;
        }
        try
        {
            using var response = await HealthClient.GetAsync(UrlOf("http") + _project.HealthCheckPath, cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}

/// <summary>The dotnet host that runs project assemblies: the one running us when we run under it.</summary>
internal static class DotnetHost
{
    public static string Path { get; } = Resolve();

    private static string Resolve()
    {
        var fromCli = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromCli) && File.Exists(fromCli))
        {
            return fromCli;
        }
        var current = Environment.ProcessPath;
        if (current is not null && System.IO.Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            return current;
        }
        var root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(root) && File.Exists(System.IO.Path.Combine(root, "dotnet")))
        {
            return System.IO.Path.Combine(root, "dotnet");
        }
        return "dotnet";
    }
}
