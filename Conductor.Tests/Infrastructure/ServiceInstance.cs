using System.Reflection;
using System.Text.RegularExpressions;
using Conductor.AppHost;
using Conductor.Hosting;
using Conductor.Hosting.Processes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conductor.Tests.Infrastructure;

/// <summary>
/// A built Conductor service (Conductor.Api, Conductor.GitWorker) run as a real process with <c>dotnet app.dll</c>,
/// on 127.0.0.1 with port 0 (Kestrel picks; read back from its log), for tests that need several instances at once,
/// their log lines, or a kill -9. The assembly is the one the AppHost's build recorded for the project.
/// </summary>
public sealed partial class ServiceInstance : IAsyncDisposable
{
    private readonly ManagedProcess _process;

    private ServiceInstance(string project, ManagedProcess process, ConsoleLog log)
    {
        Project = project;
        _process = process;
        Log = log;
    }

    public string Project { get; }
    public ConsoleLog Log { get; }
    public int Id => _process.Id;
    public Task<int> Exited => _process.Exited;
    public bool HasExited => _process.HasExited;

    /// <summary>Path of a service's built assembly, e.g. "Conductor.Web".</summary>
    public static string AssemblyPath(string projectName) =>
        typeof(ConductorModel).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key.StartsWith(AppHostMetadata.ProjectTargetPathPrefix, StringComparison.Ordinal)
                && Path.GetFileNameWithoutExtension(a.Key) == projectName).Value!;

    /// <summary>Starts the service and waits until it listens.</summary>
    public static async Task<(ServiceInstance Instance, Uri Url)> StartListeningAsync(string project,
        IReadOnlyDictionary<string, string?> environment, TimeSpan? timeout = null)
    {
        var instance = Start(project, environment);
        try
        {
            return (instance, await instance.WaitUntilListeningAsync(timeout ?? TimeSpan.FromSeconds(60)));
        }
        catch
        {
            await instance.DisposeAsync();
            throw;
        }
    }

    public static ServiceInstance Start(string project, IReadOnlyDictionary<string, string?> environment)
    {
        var dll = AssemblyPath(project);
        var env = new Dictionary<string, string?>
        {
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["DOTNET_ENVIRONMENT"] = "Development",
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            // Plain console lines: one line per message keeps the assertions on the output simple.
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = null,
        };
        foreach (var (name, value) in environment)
        {
            env[name] = value; // the test's settings win over the defaults
        }
        var log = new ConsoleLog();
        var process = ManagedProcess.Start(new ProcessSpec("dotnet", [dll])
        {
            DisplayName = project,
            WorkingDirectory = Path.GetDirectoryName(dll),
            Environment = env,
        }, log, NullLogger.Instance);
        return new ServiceInstance(project, process, log);
    }

    /// <summary>Waits for Kestrel's "Now listening on" line, or fails with the process's output.</summary>
    public async Task<Uri> WaitUntilListeningAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            foreach (var line in Log.Snapshot())
            {
                var match = ListeningPattern().Match(line.Text);
                if (match.Success)
                {
                    return new Uri(match.Groups["url"].Value);
                }
            }
            if (HasExited)
            {
                throw new InvalidOperationException($"{Project} exited with code {await Exited} before listening:\n{Output}");
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{Project} did not listen within {timeout}:\n{Output}");
    }

    public async Task<bool> WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Output.Contains(text, StringComparison.Ordinal))
            {
                return true;
            }
            await Task.Delay(100);
        }
        return false;
    }

    public string Output => string.Join('\n', Log.Snapshot().Select(l => l.Text));

    /// <summary>SIGKILL, as a crash or an OOM kill would end it: no graceful shutdown, no cleanup.</summary>
    public Task KillAsync() => _process.StopAsync(TimeSpan.Zero, signal: 9);

    public async ValueTask DisposeAsync() => await _process.DisposeAsync();

    [GeneratedRegex(@"Now listening on: (?<url>http://\S+)")]
    private static partial Regex ListeningPattern();
}
