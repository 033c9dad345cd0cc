using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Conductor.LocalServers;

namespace Conductor.Tests.Infrastructure;

/// <summary>
/// The real AppHost as a developer runs it (its built executable with the http launch profile's settings), on free
/// ports and a throwaway data folder, for the tests of what only a whole process shows: signals, leftovers, a second run.
/// </summary>
public sealed partial class AppHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private AppHostProcess(Process process, int apiPort, int webPort)
    {
        _process = process;
        ApiUrl = new Uri($"http://localhost:{apiPort.ToString(CultureInfo.InvariantCulture)}");
        WebUrl = new Uri($"http://localhost:{webPort.ToString(CultureInfo.InvariantCulture)}");
        process.OutputDataReceived += (_, e) => { lock (_output) { _output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (_output) { _output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri ApiUrl { get; }
    public Uri WebUrl { get; }
    public int Id => _process.Id;
    public string Output { get { lock (_output) { return _output.ToString(); } } }

    /// <summary>The login URL the AppHost printed for the dashboard.</summary>
    public Uri? DashboardLoginUrl => LoginPattern().Match(Output) is { Success: true } match ? new Uri(match.Groups["url"].Value) : null;

    /// <summary>
    /// Starts the AppHost. With <paramref name="asTerminalSession"/> it runs as a shell runs a foreground command: a
    /// process group of its own, with SIGINT handled by default (a background job would inherit it ignored).
    /// </summary>
    public static AppHostProcess Start(string dataDirectory, bool asTerminalSession = false)
    {
        var startInfo = new ProcessStartInfo(asTerminalSession ? "setsid" : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(RepositoryPaths.AppHostAssembly),
        };
        if (asTerminalSession)
        {
            foreach (var argument in new[] { "env", "--default-signal=INT,QUIT", "dotnet" })
            {
                startInfo.ArgumentList.Add(argument);
            }
        }
        startInfo.ArgumentList.Add(RepositoryPaths.AppHostAssembly);
        int apiPort = FreePort.Next(), webPort = FreePort.Next();
        // The http launch profile's settings, on free ports so a developer's own run (5080, 5090, 18888) is untouched.
        startInfo.Environment["DOTNET_ENVIRONMENT"] = "Development";
        startInfo.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        startInfo.Environment["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
        startInfo.Environment["ASPNETCORE_URLS"] = $"http://localhost:{FreePort.Next()}";
        startInfo.Environment["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://localhost:{FreePort.Next()}";
        startInfo.Environment["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = $"http://localhost:{FreePort.Next()}";
        startInfo.Environment["AppHost__DataDirectory"] = dataDirectory;
        startInfo.Environment["AppHost__ApiPort"] = apiPort.ToString(CultureInfo.InvariantCulture);
        startInfo.Environment["AppHost__WebPort"] = webPort.ToString(CultureInfo.InvariantCulture);
        return new AppHostProcess(Process.Start(startInfo)!, apiPort, webPort);
    }

    /// <summary>Waits until the Api's /health (which checks Postgres and Redis) and the web app answer 200.</summary>
    public async Task WaitUntilHealthyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var cancellation = new CancellationTokenSource(timeout);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The AppHost exited with {_process.ExitCode}:\n{Output}");
            }
            try
            {
                using var api = await http.GetAsync(new Uri(ApiUrl, "/health"), cancellation.Token);
                using var web = await http.GetAsync(WebUrl, cancellation.Token);
                if (api.StatusCode == System.Net.HttpStatusCode.OK && web.StatusCode == System.Net.HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellation.IsCancellationRequested)
            {
                // A request timed out while the service starts.
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                throw new TimeoutException($"The AppHost was not healthy within {timeout}:\n{Output}");
            }
            await Task.Delay(250, cancellation.Token);
        }
    }

    /// <summary>
    /// Every process the run owns: the AppHost, DCP (which runs detached, watching the AppHost's pid) and everything
    /// DCP started (servers, projects, dashboard), found through /proc.
    /// </summary>
    public IReadOnlyList<int> ProcessTree()
    {
        var parents = new Dictionary<int, int>();
        var commandLines = new Dictionary<int, string>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }
            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                parents[pid] = int.Parse(fields[1], CultureInfo.InvariantCulture);
                commandLines[pid] = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile.
            }
        }
        var roots = commandLines.Where(p => p.Value.Contains($"--monitor {_process.Id}", StringComparison.Ordinal)).Select(p => p.Key).Append(_process.Id);
        var tree = new HashSet<int>(roots);
        bool grew;
        do
        {
            grew = false;
            foreach (var (pid, parent) in parents)
            {
                if (tree.Contains(parent) && tree.Add(pid))
                {
                    grew = true;
                }
            }
        }
        while (grew);
        return [.. tree];
    }

    /// <summary>SIGTERM to the AppHost, or with <paramref name="ctrlC"/> SIGINT to its process group, as a terminal's Ctrl+C.</summary>
    public async Task<int> StopAsync(bool ctrlC = false)
    {
        var target = ctrlC ? -_process.Id : _process.Id;
        NativeMethods.TrySignal(target, ctrlC ? NativeMethods.SIGINT : NativeMethods.SIGTERM);
        // A hang guard, not a measurement: the callers measure what is left once the AppHost has exited.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    /// <summary>Waits for the AppHost to exit on its own (a refused start); a hang guard, not a measurement.</summary>
    public async Task<int> WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public static bool IsAlive(int pid)
    {
        try
        {
            // A zombie (exited, not yet reaped) counts as gone.
            return !File.ReadAllText($"/proc/{pid}/status").Contains("State:\tZ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await StopAsync();
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"Login to the dashboard at (?<url>http://\S+)")]
    private static partial Regex LoginPattern();
}
