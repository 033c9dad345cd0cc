using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Conductor.LocalServers;

namespace Conductor.Tests.Infrastructure;

/// <summary>
/// A built Conductor service (Conductor.Api, Conductor.GitWorker, Conductor.Web) run as a real process with
/// <c>dotnet app.dll</c>, on 127.0.0.1 with port 0 (Kestrel picks; read back from its log), for tests that need
/// several instances at once, their log lines, or a kill -9. The assembly is the project's own build output,
/// recorded by the test project's build (see Conductor.Tests.csproj).
/// </summary>
public sealed partial class ServiceInstance : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServiceInstance(string project, Process process, ConsoleLog log)
    {
        Project = project;
        _process = process;
        Log = log;
    }

    public string Project { get; }
    public ConsoleLog Log { get; }
    public int Id => _process.Id;
    public Task<int> Exited => _exited.Task;
    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Path of a project's built assembly, e.g. "Conductor.Web".</summary>
    public static string AssemblyPath(string projectName) =>
        typeof(ServiceInstance).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(a => a.Key == $"TargetPath:{projectName}")?.Value
            ?? throw new InvalidOperationException($"{projectName} is not a process under test: add it to _ProcessUnderTest in Conductor.Tests.csproj.");

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
        var startInfo = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll),
        };
        startInfo.ArgumentList.Add(dll);
        foreach (var (name, value) in env)
        {
            if (value is null)
            {
                startInfo.Environment.Remove(name);
            }
            else
            {
                startInfo.Environment[name] = value;
            }
        }
        var log = new ConsoleLog();
        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var instance = new ServiceInstance(project, process, log);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { log.Append(isError: false, e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { log.Append(isError: true, e.Data); } };
        process.Exited += (_, _) =>
        {
            // Let the output readers drain before anyone looks at the last lines.
            process.WaitForExit();
            instance._exited.TrySetResult(process.ExitCode);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return instance;
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
    public async Task KillAsync()
    {
        NativeMethods.TrySignal(_process.Id, 9);
        await Exited;
    }

    /// <summary>SIGTERM (a graceful shutdown, as a platform stops a service), then a kill if it has not exited in 20 s.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!HasExited && NativeMethods.TrySignal(_process.Id, NativeMethods.SIGTERM))
        {
            await Task.WhenAny(Exited, Task.Delay(TimeSpan.FromSeconds(20)));
        }
        if (!HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await Exited;
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (?<url>http://\S+)")]
    private static partial Regex ListeningPattern();
}
