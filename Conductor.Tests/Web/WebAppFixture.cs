using System.Net;
using System.Net.Sockets;
using Conductor.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Conductor.Tests.Web;

/// <summary>
/// The web app as a user meets it: the built Conductor.Web (serving the bundle and proxying /api/** with YARP) in
/// front of a real Api over real Postgres and Redis, all on 127.0.0.1, and Debian's Chromium driven by Playwright.
/// Each test makes its own users and rooms, and its own browser contexts (one per user).
/// </summary>
public sealed class WebAppFixture : IAsyncLifetime
{
    /// <summary>Debian's Chromium: Playwright may not download browsers here (.ci/run installs the package).</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public PostgresServerFixture Postgres { get; } = new();
    public RedisServerFixture Redis { get; } = new();
    public ServiceInstance Api { get; private set; } = null!;
    /// <summary>The Api's database, for tests that seed state the browser journey is not about (a ready workspace).</summary>
    public string ConnectionString { get; private set; } = null!;
    public Uri ApiUrl { get; private set; } = null!;
    public ServiceInstance GitWorker { get; private set; } = null!;
    public ServiceInstance Web { get; private set; } = null!;
    public Uri WebUrl { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;

    /// <summary>The folder Api and GitWorker share for workspaces, and one for the bare "remote" repositories.</summary>
    public string WorkspaceRoot { get; } = TestDirectories.Create("web-workspaces");
    public string Remotes { get; } = TestDirectories.Create("web-remotes");

    /// <summary>Screenshots of each main screen, kept as test artifacts (TestResults/web-screenshots).</summary>
    public string ScreenshotDirectory { get; } = Path.Combine(RepositoryPaths.Root, "TestResults", "web-screenshots");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(ScreenshotDirectory);
        await Task.WhenAll(Postgres.InitializeAsync(), Redis.InitializeAsync());
        SlowAi = await Conductor.Tests.Ai.FakeAiServer.StartAsync(Conductor.Tests.Ai.FakeAiKind.OpenAI);
        ConnectionString = await Postgres.CreateDatabaseAsync("web");
        var shared = new Dictionary<string, string?>
        {
            ["ConnectionStrings__conductordb"] = ConnectionString,
            ["ConnectionStrings__redis"] = Redis.ConnectionString,
            ["Workspaces__Root"] = WorkspaceRoot,
            // The remotes are local bare repositories (file://), as on a developer's machine.
            ["Workspaces__AllowFile"] = "true",
        };
        (Api, ApiUrl) = await ServiceInstance.StartListeningAsync("Conductor.Api", new Dictionary<string, string?>(shared)
        {
            ["Auth__DevLogin"] = "true",
            ["Auth__RateLimit__PermitLimit"] = "100000",
            ["Chat__MessageBurst"] = "100000",
            ["Chat__MessagesPerSecond"] = "100000",
            ["Chat__HistoryBurst"] = "100000",
            ["Chat__HistoryPerSecond"] = "100000",
            // A fake OpenAI-compatible provider a test can select for slow, stoppable answers; mock stays the default.
            ["Ai__ProbeInterval"] = "00:00:01",
            ["Ai__DefaultProvider"] = "mock",
            ["Ai__Providers__slow__Kind"] = "openai",
            ["Ai__Providers__slow__Endpoint"] = SlowAi.Endpoint.AbsoluteUri,
            ["Ai__Providers__slow__ApiKey"] = "sk-web-fixture-not-real",
            ["Ai__Providers__slow__Model"] = "fake-model",
        }, TimeSpan.FromSeconds(90));
        (GitWorker, _) = await ServiceInstance.StartListeningAsync("Conductor.GitWorker", shared, TimeSpan.FromSeconds(90));
        WebUrl = new Uri($"http://127.0.0.1:{FreePort()}");
        Web = await StartWebAsync(WebUrl, ApiUrl);

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
        });
    }

    /// <summary>Starts Conductor.Web on <paramref name="url"/>, forwarding /api/** to <paramref name="api"/>.</summary>
    public static async Task<ServiceInstance> StartWebAsync(Uri url, Uri api)
    {
        var (web, _) = await ServiceInstance.StartListeningAsync("Conductor.Web", new Dictionary<string, string?>
        {
            ["ASPNETCORE_URLS"] = url.GetLeftPart(UriPartial.Authority),
            ["services__api__http__0"] = api.GetLeftPart(UriPartial.Authority),
        });
        return web;
    }

    /// <summary>A fresh browser context (its own storage: one user) at 1280×800, failing the test on console errors.</summary>
    /// <summary>The fake provider behind the <c>slow</c> provider (answers scripted by the test).</summary>
    public Conductor.Tests.Ai.FakeAiServer SlowAi { get; private set; } = null!;

    public async Task<BrowserUser> NewUserAsync(string name)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = WebUrl.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
            Permissions = ["clipboard-read", "clipboard-write"],
        });
        context.SetDefaultTimeout(15_000);
        var page = await context.NewPageAsync();
        return new BrowserUser($"{name}-{Guid.NewGuid():N}"[..16], context, page, ScreenshotDirectory);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }
        _playwright?.Dispose();
        if (Web is not null)
        {
            await Web.DisposeAsync();
        }
        if (GitWorker is not null)
        {
            await GitWorker.DisposeAsync();
        }
        if (Api is not null)
        {
            await Api.DisposeAsync();
        }
        if (SlowAi is not null)
        {
            await SlowAi.DisposeAsync();
        }
        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
        TestDirectories.TryDelete(WorkspaceRoot);
        TestDirectories.TryDelete(Remotes);
    }
}

[CollectionDefinition(Name)]
public sealed class WebAppCollection : ICollectionFixture<WebAppFixture>
{
    public const string Name = "web-app";
}
