using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Conductor.LocalServers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

// First load of the web app in Debian's Chromium: navigation start → the sign-in form is on screen (the app's script
// loaded, ran, and checked the Api's health through the proxy). Reference, in the same run and the same browser: a
// bare static HTML page from a minimal Kestrel server. Cold = a fresh browser context (empty cache) each time;
// warm = a reload in the same context (assets from the cache, index.html revalidated). Runs interleaved; bounded.

var runs = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 20;
using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
var ct = deadline.Token;

ThrowawayServers? servers = null;
WebApplication? bare = null;
Process? api = null;
Process? web = null;
IPlaywright? playwright = null;
try
{
    servers = await ThrowawayServers.StartAsync("bench-web", ct);
    var (postgres, redis) = (servers.Postgres, servers.Redis);

    api = Start("ApiAssembly", new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["ConnectionStrings__conductordb"] = postgres.ConnectionStringFor("conductordb"),
        ["ConnectionStrings__redis"] = redis.ConnectionString,
    });
    var apiUrl = await WaitForListeningAsync(api, ct);
    // Development: the web root is the project's wwwroot through the static web assets manifest (a build, not a publish).
    web = Start("WebAssembly", new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Development",
        ["services__api__http__0"] = apiUrl.GetLeftPart(UriPartial.Authority),
    });
    var webUrl = await WaitForListeningAsync(web, ct);
    (bare, var bareUrl) = await StartBarePageAsync();

    playwright = await Playwright.CreateAsync();
    await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = "/usr/bin/chromium",
        Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"],
    });

    async Task<(double Cold, double Warm)> LoadAsync(Uri url, Func<IPage, Task> ready)
    {
        await using var context = await browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var watch = Stopwatch.StartNew();
        await page.GotoAsync(url.ToString(), new() { WaitUntil = WaitUntilState.Commit });
        await ready(page);
        var cold = watch.Elapsed.TotalMilliseconds;
        watch.Restart();
        await page.ReloadAsync(new() { WaitUntil = WaitUntilState.Commit });
        await ready(page);
        return (cold, watch.Elapsed.TotalMilliseconds);
    }

    Task AppReady(IPage page) => page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).WaitForAsync();
    Task BareReady(IPage page) => page.GetByRole(AriaRole.Heading, new() { Name = "Bare page" }).WaitForAsync();

    for (var i = 0; i < 3; i++) // warm-up: JIT on both servers, Chromium's first process spawns
    {
        await LoadAsync(webUrl, AppReady);
        await LoadAsync(bareUrl, BareReady);
    }
    var app = new List<(double Cold, double Warm)>();
    var reference = new List<(double Cold, double Warm)>();
    for (var i = 0; i < runs; i++)
    {
        app.Add(await LoadAsync(webUrl, AppReady));
        reference.Add(await LoadAsync(bareUrl, BareReady));
    }
    Console.WriteLine($"{runs} runs each, interleaved; ms from navigation to the page being usable");
    Console.WriteLine($"{"page",-34} {"median",8} {"p90",8} {"min",8}");
    Report("web app, cold cache (sign-in form)", app.Select(a => a.Cold).ToList());
    Report("web app, warm cache (reload)", app.Select(a => a.Warm).ToList());
    Report("bare static page, cold cache", reference.Select(a => a.Cold).ToList());
    Report("bare static page, warm cache", reference.Select(a => a.Warm).ToList());
    Console.WriteLine($"ratio app/bare (median): cold {Median(app.Select(a => a.Cold).ToList()) / Median(reference.Select(a => a.Cold).ToList()):0.00}x, " +
        $"warm {Median(app.Select(a => a.Warm).ToList()) / Median(reference.Select(a => a.Warm).ToList()):0.00}x");
    return 0;
}
finally
{
    playwright?.Dispose();
    foreach (var process in new[] { web, api })
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }
    }
    if (bare is not null)
    {
        await bare.StopAsync(CancellationToken.None);
        await bare.DisposeAsync();
    }
    if (servers is not null)
    {
        await servers.DisposeAsync();
    }
}

static Process Start(string assemblyKey, Dictionary<string, string> environment)
{
    var dll = typeof(Program).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == assemblyKey).Value!;
    var start = new ProcessStartInfo("dotnet", [dll])
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
        WorkingDirectory = Path.GetDirectoryName(dll),
    };
    start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
    start.Environment["Logging__LogLevel__Default"] = "Warning";
    start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
    foreach (var (name, value) in environment)
    {
        start.Environment[name] = value;
    }
    return Process.Start(start)!;
}

static async Task<Uri> WaitForListeningAsync(Process process, CancellationToken ct)
{
    while (await process.StandardOutput.ReadLineAsync(ct) is { } line)
    {
        var match = Regex.Match(line, @"Now listening on: (?<url>http://\S+)");
        if (match.Success)
        {
            _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None); // keep the pipe drained
            _ = process.StandardError.ReadToEndAsync(CancellationToken.None);
            return new Uri(match.Groups["url"].Value);
        }
    }
    throw new InvalidOperationException($"A service exited before listening: {await process.StandardError.ReadToEndAsync(ct)}");
}

static async Task<(WebApplication App, Uri Url)> StartBarePageAsync()
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.UseUrls("http://127.0.0.1:0");
    var app = builder.Build();
    app.MapGet("/", () => Results.Content("<!doctype html><html><head><title>Bare</title></head><body><h1>Bare page</h1></body></html>", "text/html"));
    await app.StartAsync();
    var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    return (app, new Uri(url));
}

static void Report(string name, List<double> samples)
{
    var sorted = samples.Order().ToList();
    Console.WriteLine($"{name,-34} {Median(samples),8:0.0} {sorted[(int)Math.Ceiling(sorted.Count * 0.9) - 1],8:0.0} {sorted[0],8:0.0}");
}

static double Median(List<double> samples)
{
    var sorted = samples.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}
