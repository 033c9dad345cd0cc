using System.Diagnostics;
using System.Reflection;
using System.Text;
using Conductor.AppHost;
using Conductor.Hosting;
using Conductor.Hosting.Provisioning;

namespace Conductor.Tests.Infrastructure;

/// <summary>
/// One of our services (api, gitworker, web) as a real process on a free 127.0.0.1 port, started from the
/// assembly the AppHost's build recorded, with the environment a test gives it.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServiceProcess(Process process, Uri url)
    {
        _process = process;
        Url = url;
        process.OutputDataReceived += (_, e) => { lock (_output) { _output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (_output) { _output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri Url { get; }
    public int Id => _process.Id;
    public string Output { get { lock (_output) { return _output.ToString(); } } }

    /// <summary>Path of a service's built assembly, e.g. "Conductor.Web".</summary>
    public static string AssemblyPath(string projectName) =>
        typeof(ConductorModel).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key.StartsWith(AppHostMetadata.ProjectTargetPathPrefix, StringComparison.Ordinal)
                && Path.GetFileNameWithoutExtension(a.Key) == projectName).Value!;

    public static Task<ServiceProcess> StartAsync(string projectName, IReadOnlyDictionary<string, string> environment,
        bool waitForHealthy = true, CancellationToken cancellationToken = default)
    {
        var port = FreePort.Next();
        var startInfo = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        startInfo.ArgumentList.Add(AssemblyPath(projectName));
        startInfo.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        startInfo.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        foreach (var (name, value) in environment)
        {
            startInfo.Environment[name] = value;
        }
        var service = new ServiceProcess(Process.Start(startInfo)!, new Uri($"http://127.0.0.1:{port}"));
        return waitForHealthy ? service.WaitForHealthyAsync(cancellationToken) : Task.FromResult(service);
    }

    private async Task<ServiceProcess> WaitForHealthyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The service exited with {_process.ExitCode}: {Output}");
            }
            try
            {
                if ((await http.GetAsync(new Uri(Url, "/health"), timeout.Token)).IsSuccessStatusCode)
                {
                    return this;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!timeout.IsCancellationRequested)
            {
            }
            await Task.Delay(100, timeout.Token);
        }
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        _process.Dispose();
    }
}
