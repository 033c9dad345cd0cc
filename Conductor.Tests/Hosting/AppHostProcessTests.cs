using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Conductor.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Conductor.Tests.Hosting;

/// <summary>The AppHost as a process: a signal stops everything it started, and the next run opens the same data.</summary>
public sealed class AppHostProcessTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    /// <summary>
    /// A hang guard, not a measurement (no timed tests): DCP stops what it started on its own after the AppHost has
    /// exited. The time it took is printed; docs/apphost.md has the numbers (5–9.5 s here).
    /// </summary>
    private static readonly TimeSpan StopGuard = TimeSpan.FromSeconds(30);
    private readonly string _dataDirectory = TestDirectories.Create("apphost-process");

    [Fact]
    public async Task Sigterm_stops_every_process_a_concurrent_run_is_refused_and_the_next_run_reuses_the_data()
    {
        string accessToken;
        await using (var first = AppHostProcess.Start(_dataDirectory))
        {
            await first.WaitUntilHealthyAsync(StartTimeout);
            Assert.Contains("Initialising a Postgres cluster", first.Output, StringComparison.Ordinal);
            using var http = new HttpClient { BaseAddress = first.ApiUrl };
            using var signIn = await http.PostAsJsonAsync("/auth/dev", new { login = "keeps-data" });
            signIn.EnsureSuccessStatusCode();
            accessToken = (await signIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;

            // A second run on the same data folder would start a second postmaster on the same cluster: it stops
            // first, with one line that says why, and leaves the running one alone.
            await using (var concurrent = AppHostProcess.Start(_dataDirectory))
            {
                Assert.Equal(1, await concurrent.WaitForExitAsync());
                Assert.Contains($"Conductor is already running with the data folder {_dataDirectory} (pid {first.Id})", concurrent.Output, StringComparison.Ordinal);
                Assert.DoesNotContain("   at ", concurrent.Output, StringComparison.Ordinal); // a message, not a stack trace
            }
            using (var health = await http.GetAsync("/health"))
            {
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            }

            await AssertStopsCleanlyAsync(first, ctrlC: false);
        }

        await using var second = AppHostProcess.Start(_dataDirectory);
        await second.WaitUntilHealthyAsync(StartTimeout);
        Assert.DoesNotContain("Initialising a Postgres cluster", second.Output, StringComparison.Ordinal);
        // The user, the refresh-token family and the data-protection keys that sign access tokens live in conductordb:
        // the first run's token still works.
        using var again = new HttpClient { BaseAddress = second.ApiUrl };
        again.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        var me = await again.GetFromJsonAsync<JsonElement>("/auth/me");
        Assert.Equal("keeps-data", me.GetProperty("login").GetString());
        await AssertStopsCleanlyAsync(second, ctrlC: false);
    }

    [Fact]
    public async Task Ctrl_c_in_a_terminal_stops_every_process_and_prints_the_dashboard_login()
    {
        await using var run = AppHostProcess.Start(_dataDirectory, asTerminalSession: true);
        await run.WaitUntilHealthyAsync(StartTimeout);

        // The dashboard's login link, with its token, as Aspire prints it; following it signs in.
        var login = run.DashboardLoginUrl;
        Assert.NotNull(login);
        Assert.Contains("/login?t=", login.ToString(), StringComparison.Ordinal);
        using (var dashboard = new HttpClient())
        {
            using var page = await dashboard.GetAsync(login);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }

        await AssertStopsCleanlyAsync(run, ctrlC: true);
    }

    private async Task AssertStopsCleanlyAsync(AppHostProcess run, bool ctrlC)
    {
        var processes = run.ProcessTree();
        // AppHost, DCP's two processes, redis-server, the postmaster and its workers, three projects, the dashboard.
        Assert.True(processes.Count >= 8, $"expected the whole run, found {processes.Count} processes:\n{run.Output}");

        var clock = Stopwatch.StartNew();
        Assert.Equal(0, await run.StopAsync(ctrlC));
        var left = processes.Where(AppHostProcess.IsAlive).ToList();
        while (left.Count > 0 && clock.Elapsed < StopGuard)
        {
            await Task.Delay(100);
            left = left.Where(AppHostProcess.IsAlive).ToList();
        }
        output.WriteLine($"{(ctrlC ? "SIGINT to the group" : "SIGTERM")}: {processes.Count} processes gone in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(left.Count == 0, $"still running {clock.Elapsed.TotalSeconds:0.0} s after the signal: " +
            string.Join(", ", left.Select(pid => $"{pid} {CommandLine(pid)}")));
        // Postgres got a fast shutdown, so it left a clean cluster (no postmaster.pid, no recovery on the next start).
        Assert.False(File.Exists(Path.Combine(_dataDirectory, "postgres", "data", "postmaster.pid")));
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }

    public void Dispose() => TestDirectories.TryDelete(_dataDirectory);
}
