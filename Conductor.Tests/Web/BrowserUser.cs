using Microsoft.Playwright;

namespace Conductor.Tests.Web;

/// <summary>One person in the browser: their own context (storage, tokens) and page, and what the console said.</summary>
public sealed class BrowserUser : IAsyncDisposable
{
    private readonly List<string> _consoleErrors = [];
    private readonly List<string> _failedLoads = [];
    private readonly List<string> _urls = [];
    private readonly string _screenshots;

    public BrowserUser(string login, IBrowserContext context, IPage page, string screenshots)
    {
        Login = login;
        Context = context;
        Page = page;
        _screenshots = screenshots;
        page.Console += (_, message) =>
        {
            if (message.Type != "error")
            {
                return;
            }
            lock (_consoleErrors)
            {
                // Chromium logs every non-2xx answer to a fetch; the Api's documented 404s are not script errors.
                if (message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal))
                {
                    _failedLoads.Add($"{message.Text} {message.Location}");
                }
                else
                {
                    _consoleErrors.Add(message.Text);
                }
            }
        };
        // Every URL the page asked for, sockets included: none may carry a credential.
        page.Request += (_, request) =>
        {
            lock (_urls)
            {
                _urls.Add(request.Url);
            }
        };
        page.WebSocket += (_, socket) =>
        {
            lock (_urls)
            {
                _urls.Add(socket.Url);
            }
        };
        page.PageError += (_, error) =>
        {
            lock (_consoleErrors)
            {
                _consoleErrors.Add(error);
            }
        };
    }

    public string Login { get; }
    public IBrowserContext Context { get; }
    public IPage Page { get; }

    /// <summary>Requests the browser reported as failed (status and URL).</summary>
    public IReadOnlyList<string> FailedLoads
    {
        get
        {
            lock (_consoleErrors)
            {
                return [.. _failedLoads];
            }
        }
    }

    /// <summary>Every URL the page requested or opened a WebSocket to, in order.</summary>
    public IReadOnlyList<string> RequestedUrls
    {
        get
        {
            lock (_urls)
            {
                return [.. _urls];
            }
        }
    }

    /// <summary>The signed-in session's current access and refresh tokens, as the app keeps them.</summary>
    public async Task<(string AccessToken, string RefreshToken)> TokensAsync()
    {
        var session = await Page.EvaluateAsync<System.Text.Json.JsonElement>("JSON.parse(localStorage.getItem('conductor.session'))");
        return (session.GetProperty("accessToken").GetString()!, session.GetProperty("refreshToken").GetString()!);
    }

    /// <summary>Script errors and console.error calls.</summary>
    public IReadOnlyList<string> ConsoleErrors
    {
        get
        {
            lock (_consoleErrors)
            {
                return [.. _consoleErrors];
            }
        }
    }

    /// <summary>Opens the app and signs in through the development sign-in form.</summary>
    public async Task SignInAsync(string path = "/")
    {
        await Page.GotoAsync(path);
        await Page.GetByLabel("Name", new() { Exact = true }).FillAsync(Login);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Assertions.Expect(Page.GetByText($"Signed in as {Login}")).ToBeVisibleAsync();
    }

    public async Task SendAsync(string text)
    {
        await Page.GetByLabel("Message", new() { Exact = true }).FillAsync(text);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Send", Exact = true }).ClickAsync();
    }

    public ILocator Messages => Page.GetByRole(AriaRole.List, new() { Name = "Messages" }).Locator("li.message:not(.pending)");

    public ILocator Member(string login) => Page.Locator($"aside.members li[data-login='{login}']");

    public Task ScreenshotAsync(string name) =>
        Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(_screenshots, name + ".png"), FullPage = true });

    public async ValueTask DisposeAsync() => await Context.CloseAsync();
}
