using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conductor.Hosting;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Hosting;

/// <summary>The whole system, booted through the AppHost's own model, as Aspire.Hosting.Testing would.</summary>
public sealed class AppHostTests : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);
    private readonly string _dataDirectory = TestDirectories.Create("apphost");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task Topology_comes_up_healthy_and_the_dashboard_lists_every_resource()
    {
        await using var app = DistributedApplicationTestingBuilder.Create(_dataDirectory);
        await app.StartAsync();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await Task.WhenAll(new[] { "api", "gitworker", "web" }.Select(name => app.WaitForResourceHealthyAsync(name, timeout.Token)));

        // The Api's /health, through the endpoint the model discovered, runs the Postgres and Redis checks.
        var health = await _http.GetAsync(new Uri(app.GetEndpoint("api"), "/health"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);

        var resources = await _http.GetFromJsonAsync<JsonElement>(new Uri(new Uri(app.DashboardUrl!), "/api/resources"));
        var byName = resources.EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);
        Assert.Equal(["api", "conductordb", "gitworker", "postgres", "redis", "web"], byName.Keys.Order());
        foreach (var resource in byName.Values)
        {
            Assert.Equal("Running", resource.GetProperty("state").GetString());
            Assert.Equal("Healthy", resource.GetProperty("health").GetString());
        }
        var apiUrl = byName["api"].GetProperty("endpoints")[0].GetProperty("url").GetString();
        Assert.Equal(app.GetEndpoint("api").ToString().TrimEnd('/'), apiUrl);

        // The web app finds the Api the Aspire way (services__api__http__0) and forwards /api/** to it: same origin.
        var proxiedHealth = await _http.GetFromJsonAsync<JsonElement>(new Uri(app.GetEndpoint("web"), "/api/health"));
        Assert.Equal("Healthy", proxiedHealth.GetProperty("status").GetString());

        // The browser app calls the Api across origins: the Api answers CORS for the web app's origin only.
        var webOrigin = app.GetEndpoint("web").GetLeftPart(UriPartial.Authority);
        using (var preflight = new HttpRequestMessage(HttpMethod.Options, new Uri(app.GetEndpoint("api"), "/rooms")))
        {
            preflight.Headers.Add("Origin", webOrigin);
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            preflight.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
            var allowed = await _http.SendAsync(preflight);
            Assert.Equal(webOrigin, allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        }
        using (var foreign = new HttpRequestMessage(HttpMethod.Options, new Uri(app.GetEndpoint("api"), "/rooms")))
        {
            foreign.Headers.Add("Origin", "http://evil.example");
            foreign.Headers.Add("Access-Control-Request-Method", "POST");
            Assert.False((await _http.SendAsync(foreign)).Headers.Contains("Access-Control-Allow-Origin"));
        }

        var openApi = await _http.GetFromJsonAsync<JsonElement>(new Uri(app.GetEndpoint("api"), "/openapi/v1.json"));
        Assert.StartsWith("3.", openApi.GetProperty("openapi").GetString());

        var processIds = app.Runtimes.Select(r => r.Pid).OfType<int>().ToList();
        Assert.True(processIds.Count >= 5, "every server and project runs as a process");
        await app.StopAsync();
        foreach (var pid in processIds)
        {
            Assert.False(IsAlive(pid), $"process {pid} outlived the AppHost");
        }
    }

    [Fact]
    public async Task A_second_run_on_the_same_data_folder_is_refused()
    {
        await using var first = DistributedApplicationTestingBuilder.Create(_dataDirectory);
        await first.StartAsync();
        await using var second = DistributedApplicationTestingBuilder.Create(_dataDirectory);
        var error = await Assert.ThrowsAsync<AppHostAlreadyRunningException>(() => second.StartAsync());
        Assert.Contains("already running", error.Message);
        Assert.Contains(first.DashboardUrl!, error.Message);
    }

    [Fact]
    public async Task Dashboard_restarts_a_resource_only_with_its_header_and_serves_console_output()
    {
        await using var app = DistributedApplicationTestingBuilder.Create(_dataDirectory);
        await app.StartAsync();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await app.WaitForResourceHealthyAsync("api", timeout.Token);
        var dashboard = new Uri(app.DashboardUrl!);
        var firstPid = app.GetRuntime("api").Pid;

        var page = await _http.GetStringAsync(dashboard);
        Assert.Contains("Conductor", page);

        var logs = await _http.GetFromJsonAsync<JsonElement>(new Uri(dashboard, "/api/resources/api/logs"));
        Assert.Contains(logs.EnumerateArray(), line => line.GetProperty("text").GetString()!.Contains("Now listening on", StringComparison.Ordinal));

        var forged = await _http.PostAsync(new Uri(dashboard, "/api/resources/api/restart"), null);
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);

        using var restart = new HttpRequestMessage(HttpMethod.Post, new Uri(dashboard, "/api/resources/api/restart"));
        restart.Headers.Add("X-Conductor-Dashboard", "1");
        Assert.Equal(HttpStatusCode.Accepted, (await _http.SendAsync(restart)).StatusCode);

        while (!timeout.IsCancellationRequested)
        {
            var api = app.GetRuntime("api");
            if (api.Restarts == 1 && api.Pid is { } pid && pid != firstPid && api.Health == Conductor.Hosting.Orchestration.ResourceHealth.Healthy)
            {
                break;
            }
            await Task.Delay(100, timeout.Token);
        }
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri(app.GetEndpoint("api"), "/health"))).StatusCode);
        Assert.False(IsAlive(firstPid!.Value));

        using var rebinding = new HttpRequestMessage(HttpMethod.Get, new Uri(dashboard, "/api/resources"));
        rebinding.Headers.Host = "attacker.example";
        Assert.Equal(HttpStatusCode.MisdirectedRequest, (await _http.SendAsync(rebinding)).StatusCode);
    }

    [Fact]
    public async Task A_crashed_project_shows_as_failed_and_unhealthy()
    {
        await using var app = DistributedApplicationTestingBuilder.Create(_dataDirectory);
        await app.StartAsync();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await app.WaitForResourceHealthyAsync("gitworker", timeout.Token);
        var gitworker = app.GetRuntime("gitworker");

        Process.GetProcessById(gitworker.Pid!.Value).Kill();
        while (gitworker.State != Conductor.Hosting.Orchestration.ResourceState.Failed)
        {
            await Task.Delay(50, timeout.Token);
        }
        Assert.Equal(Conductor.Hosting.Orchestration.ResourceHealth.Unhealthy, gitworker.Health);
        Assert.Equal(137, gitworker.ExitCode);
        Assert.Contains("exited with code 137", gitworker.Error);
    }

    [Fact]
    public async Task Sigterm_stops_every_child_and_a_second_run_reuses_the_data()
    {
        var firstRun = await RunAppHostUntilHealthyAsync();
        var pids = firstRun.ChildPids;
        Assert.True(pids.Count >= 5);
        await firstRun.TerminateAsync();
        foreach (var pid in pids)
        {
            Assert.False(IsAlive(pid), $"process {pid} outlived the AppHost");
        }

        // The cluster initialised by the first run is reused, password and all.
        var secondRun = await RunAppHostUntilHealthyAsync();
        Assert.Contains("Postgres is ready", secondRun.Output);
        Assert.DoesNotContain("Initialising a Postgres cluster", secondRun.Output);
        await secondRun.TerminateAsync();
    }

    [Fact]
    public async Task Ctrl_c_in_a_terminal_stops_projects_before_the_servers_they_use()
    {
        var run = await RunAppHostUntilHealthyAsync(asTerminalSession: true);
        var pids = run.ChildPids;
        await run.TerminateAsync(ctrlC: true);
        foreach (var pid in pids)
        {
            Assert.False(IsAlive(pid), $"process {pid} outlived the AppHost");
        }

        // Only the AppHost saw the SIGINT: nothing died on its own, and the Api was stopped before Postgres went.
        var output = run.Output;
        Assert.DoesNotContain("is Exited", output);
        Assert.DoesNotContain("is Failed", output);
        var apiStopped = output.IndexOf("api is Stopped", StringComparison.Ordinal);
        var postgresStopping = output.IndexOf("postgres is Stopping", StringComparison.Ordinal);
        Assert.True(apiStopped >= 0 && postgresStopping > apiStopped, output);
    }

    private async Task<AppHostProcess> RunAppHostUntilHealthyAsync(bool asTerminalSession = false)
    {
        var startInfo = new ProcessStartInfo(asTerminalSession ? "setsid" : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asTerminalSession)
        {
            // Like a shell running it in the foreground: a process group of its own, with Ctrl+C's signals handled
            // by default (a shell's background jobs would inherit them ignored).
            foreach (var argument in new[] { "env", "--default-signal=INT,QUIT", "dotnet" })
            {
                startInfo.ArgumentList.Add(argument);
            }
        }
        startInfo.ArgumentList.Add(RepositoryPaths.AppHostAssembly);
        startInfo.Environment["AppHost__DataDirectory"] = _dataDirectory;
        startInfo.Environment["AppHost__RandomizePorts"] = "true";
        var process = Process.Start(startInfo)!;
        var running = new AppHostProcess(process);
        using var timeout = new CancellationTokenSource(StartTimeout);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException("The AppHost exited: " + running.Output);
            }
            if (File.Exists(Path.Combine(_dataDirectory, "apphost.json")))
            {
                try
                {
                    var info = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_dataDirectory, "apphost.json"), timeout.Token));
                    var dashboard = new Uri(info.RootElement.GetProperty("dashboard").GetString()!);
                    var resources = await _http.GetFromJsonAsync<JsonElement>(new Uri(dashboard, "/api/resources"), timeout.Token);
                    if (info.RootElement.GetProperty("pid").GetInt32() == process.Id
                        && resources.EnumerateArray().All(r => r.GetProperty("health").GetString() == "Healthy"))
                    {
                        running.ChildPids = [.. resources.EnumerateArray()
                            .Select(r => r.GetProperty("pid")).Where(p => p.ValueKind == JsonValueKind.Number).Select(p => p.GetInt32())];
                        return running;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or JsonException or IOException)
                {
                    // Still starting.
                }
            }
            await Task.Delay(200, timeout.Token);
        }
    }

    private sealed class AppHostProcess
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _output = new();

        public AppHostProcess(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) => { lock (_output) { _output.AppendLine(e.Data); } };
            process.ErrorDataReceived += (_, e) => { lock (_output) { _output.AppendLine(e.Data); } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public List<int> ChildPids { get; set; } = [];
        public string Output { get { lock (_output) { return _output.ToString(); } } }

        /// <summary>SIGTERM to the AppHost, or with <paramref name="ctrlC"/> SIGINT to its whole process group, as a terminal does.</summary>
        public async Task TerminateAsync(bool ctrlC = false)
        {
            var pid = _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Process.Start("kill", ctrlC ? ["-INT", "--", "-" + pid] : ["-TERM", pid]).WaitForExit();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _process.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, _process.ExitCode);
            _process.Dispose();
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            // A zombie (exited, not yet reaped) counts as gone.
            var status = File.ReadAllText($"/proc/{pid}/status");
            return !status.Contains("State:\tZ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        _http.Dispose();
        TestDirectories.TryDelete(_dataDirectory);
        return Task.CompletedTask;
    }
}
