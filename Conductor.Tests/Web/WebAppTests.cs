using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conductor.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Conductor.Tests.Web;

[Collection(WebAppCollection.Name)]
public sealed class WebAppTests(WebAppFixture app)
{
    [Fact]
    public async Task The_web_origin_answers_api_health_from_the_Api()
    {
        using var http = new HttpClient { BaseAddress = app.WebUrl };
        using var response = await http.GetAsync("/api/health");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // The Api's health lists its Postgres and Redis checks; the web app itself has neither.
        Assert.Contains("postgres", body, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("redis", body, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_proxy_forwards_api_errors_as_the_Api_wrote_them()
    {
        using var http = new HttpClient { BaseAddress = app.WebUrl };
        using var unauthenticated = await http.GetAsync("/api/rooms");
        Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);

        using var badLogin = await http.PostAsJsonAsync("/api/auth/dev", new { login = "not a valid login!" });
        Assert.Equal(HttpStatusCode.BadRequest, badLogin.StatusCode);
        Assert.Equal("application/problem+json", badLogin.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Client_side_routes_load_the_app_shell_and_assets_are_cached_immutably()
    {
        using var http = new HttpClient { BaseAddress = app.WebUrl };
        using var join = await http.GetAsync("/join?token=abc");
        var shell = await join.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, join.StatusCode);
        Assert.Contains("<div id=\"root\">", shell, StringComparison.Ordinal);
        Assert.Equal("no-cache", join.Headers.CacheControl?.ToString());

        var script = System.Text.RegularExpressions.Regex.Match(shell, "src=\"(/assets/[^\"]+\\.js)\"").Groups[1].Value;
        using var asset = await http.GetAsync(script);
        Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
        Assert.Contains("immutable", asset.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_users_in_one_room_chat_both_ways_and_see_each_other_online_and_typing()
    {
        await using var alice = await app.NewUserAsync("alice");
        await using var bob = await app.NewUserAsync("bob");

        await alice.SignInAsync();
        await alice.ScreenshotAsync("rooms");
        await alice.Page.GetByLabel("Room name", new() { Exact = true }).FillAsync("Launch prep");
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Create room", Exact = true }).ClickAsync();
        await Expect(alice.Page.GetByRole(AriaRole.Heading, new() { Name = "Launch prep" })).ToBeVisibleAsync();
        await Expect(alice.Page.GetByRole(AriaRole.Status).GetByText("Live")).ToBeVisibleAsync();

        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Copy invite link", Exact = true }).ClickAsync();
        var inviteUrl = await alice.Page.GetByLabel("Invite link", new() { Exact = true }).InputValueAsync();
        Assert.StartsWith(app.WebUrl.ToString().TrimEnd('/') + "/join?token=", inviteUrl, StringComparison.Ordinal);
        Assert.Equal(inviteUrl, await alice.Page.EvaluateAsync<string>("navigator.clipboard.readText()"));

        // Bob opens the link signed out: he signs in on that page and joins from it.
        await bob.SignInAsync(new Uri(inviteUrl).PathAndQuery);
        await bob.ScreenshotAsync("join");
        await bob.Page.GetByRole(AriaRole.Button, new() { Name = "Join room", Exact = true }).ClickAsync();
        await Expect(bob.Page.GetByRole(AriaRole.Heading, new() { Name = "Launch prep" })).ToBeVisibleAsync();

        // Both see both members online, with their roles.
        await Expect(alice.Member(bob.Login)).ToContainTextAsync("guest");
        await Expect(alice.Member(bob.Login)).ToContainTextAsync("online");
        await Expect(bob.Member(alice.Login)).ToContainTextAsync("host");
        await Expect(bob.Member(alice.Login)).ToContainTextAsync("online");

        await alice.SendAsync("Hi Bob, the release branch is ready.");
        await Expect(bob.Messages.Last).ToContainTextAsync("Hi Bob, the release branch is ready.");
        await Expect(bob.Messages.Last).ToContainTextAsync(alice.Login);

        await bob.Page.GetByLabel("Message", new() { Exact = true }).PressSequentiallyAsync("On it");
        await Expect(alice.Page.GetByText($"{bob.Login} is typing…")).ToBeVisibleAsync();
        await bob.Page.GetByRole(AriaRole.Button, new() { Name = "Send", Exact = true }).ClickAsync();
        await Expect(alice.Messages.Last).ToContainTextAsync("On it");
        await Expect(alice.Page.GetByText($"{bob.Login} is typing…")).ToBeHiddenAsync();

        // Each side holds the conversation once, in the same order.
        Assert.Equal(
            (await alice.Messages.Locator(".body").AllInnerTextsAsync()).ToArray(),
            (await bob.Messages.Locator(".body").AllInnerTextsAsync()).ToArray());
        await alice.ScreenshotAsync("room-chat-host");
        await bob.ScreenshotAsync("room-chat-guest");

        // The chat hub's sockets carried single-use tickets, never the session's tokens (URLs end up in logs).
        foreach (var user in new[] { alice, bob })
        {
            var (accessToken, refreshToken) = await user.TokensAsync();
            var hubSockets = user.RequestedUrls.Where(u => u.Contains("/api/hubs/chat", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(hubSockets);
            Assert.All(hubSockets, u => Assert.StartsWith("ws", u, StringComparison.Ordinal));
            Assert.DoesNotContain(user.RequestedUrls, u => u.Contains(Uri.EscapeDataString(accessToken), StringComparison.Ordinal)
                || u.Contains(accessToken, StringComparison.Ordinal) || u.Contains(refreshToken, StringComparison.Ordinal));
        }

        // Bob leaves (closes his page): Alice sees him go offline.
        await bob.Page.CloseAsync();
        await Expect(alice.Member(bob.Login)).ToContainTextAsync("offline", new() { Timeout = 20_000 });

        Assert.Empty(alice.ConsoleErrors);
        Assert.Empty(bob.ConsoleErrors);
        Assert.Empty(alice.FailedLoads);
        Assert.Empty(bob.FailedLoads);
    }

    [Fact]
    public async Task An_ai_answer_grows_in_the_chat_with_a_stop_button_and_stays_as_stopped()
    {
        await using var alice = await app.NewUserAsync("asker");
        await alice.SignInAsync();
        await CreateRoomAsync(alice, "AI chat");
        var marker = Guid.NewGuid().ToString("N");
        app.SlowAi.AnswerRequest = request => request.Body.Contains(marker, StringComparison.Ordinal)
            ? new Conductor.Tests.Ai.FakeAnswer(["Streaming ", "a slow ", "answer"]) { TokenDelay = TimeSpan.FromMilliseconds(200), HangAtEnd = true }
            : null;

        // Alice picks the slow provider: her @ai questions go to it.
        await alice.Page.GetByRole(AriaRole.Tab, new() { Name = "AI", Exact = true }).ClickAsync();
        await Expect(alice.Page.Locator("tr[data-provider='slow']")).ToContainTextAsync("available", new() { Timeout = 20_000 });
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Select slow", Exact = true }).ClickAsync();
        await Expect(alice.Page.Locator("tr[data-provider='slow']")).ToContainTextAsync("Selected");
        await alice.Page.GetByRole(AriaRole.Tab, new() { Name = "Chat", Exact = true }).ClickAsync();

        await alice.SendAsync($"@ai please answer slowly {marker}");
        var answer = alice.Page.Locator("li.ai-answer");
        await Expect(answer).ToContainTextAsync("Streaming a slow answer", new() { Timeout = 20_000 });
        await Expect(answer.Locator(".provider")).ToHaveTextAsync("slow");
        await alice.ScreenshotAsync("ai-answer-streaming");
        await answer.GetByRole(AriaRole.Button, new() { Name = "Stop", Exact = true }).ClickAsync();

        // The stored answer replaces the streamed one.
        await Expect(answer).ToHaveCountAsync(0);
        var stored = alice.Messages.Last;
        await Expect(stored).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("kind-ai"));
        await Expect(stored).ToContainTextAsync("Streaming a slow answer");
        await Expect(stored).ToContainTextAsync("(stopped)");
        await app.SlowAi.ChatRequests.Single(r => r.Body.Contains(marker, StringComparison.Ordinal)).ClientAborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(alice.ConsoleErrors);
    }

    [Fact]
    public async Task Code_snippets_are_shown_with_syntax_colour()
    {
        await using var alice = await app.NewUserAsync("coder");
        await alice.SignInAsync();
        await CreateRoomAsync(alice, "Snippets");

        await alice.Page.GetByLabel("Send as code", new() { Exact = true }).CheckAsync();
        await alice.Page.GetByLabel("Language", new() { Exact = true }).SelectOptionAsync("typescript");
        await alice.Page.GetByLabel("Message", new() { Exact = true }).FillAsync("const answer: number = 42;");
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Send", Exact = true }).ClickAsync();

        var code = alice.Messages.Last.Locator("pre.code-block");
        await Expect(code).ToContainTextAsync("const answer: number = 42;");
        // Monaco's colorizer wraps tokens in spans with token classes (keyword, number, ...).
        await Expect(code.Locator("span[class*='mtk']").First).ToBeVisibleAsync();
        Assert.True(await code.Locator("span[class*='mtk']").CountAsync() >= 3);
        await alice.ScreenshotAsync("code-snippet");
        Assert.Empty(alice.ConsoleErrors);
    }

    [Fact]
    public async Task A_reader_whose_connection_dropped_gets_exactly_the_messages_sent_meanwhile()
    {
        // Bob reads through his own Conductor.Web; stopping it cuts his connection while the room goes on.
        var bobsWebUrl = new Uri($"http://127.0.0.1:{WebAppFixture.FreePort()}");
        var bobsWeb = await WebAppFixture.StartWebAsync(bobsWebUrl, app.ApiUrl);
        try
        {
            await using var alice = await app.NewUserAsync("alice");
            await alice.SignInAsync();
            await CreateRoomAsync(alice, "Gap");
            await alice.SendAsync("before the drop");

            await using var bob = await app.NewUserAsync("bob");
            var bobPage = await bob.Context.NewPageAsync();
            await bob.Page.CloseAsync();
            await bobPage.GotoAsync(new Uri(bobsWebUrl, "/").ToString());
            var bobInBrowser = new BrowserView(bobPage);
            await bobInBrowser.SignInAsync(bob.Login);
            await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Copy invite link", Exact = true }).ClickAsync();
            var invite = new Uri(await alice.Page.GetByLabel("Invite link", new() { Exact = true }).InputValueAsync());
            await bobPage.GotoAsync(new Uri(bobsWebUrl, invite.PathAndQuery).ToString());
            await bobPage.GetByRole(AriaRole.Button, new() { Name = "Join room", Exact = true }).ClickAsync();
            await Expect(bobInBrowser.Messages.Last).ToContainTextAsync("before the drop");

            await bobsWeb.DisposeAsync();
            await Expect(bobPage.GetByRole(AriaRole.Status).GetByText("Reconnecting…")).ToBeVisibleAsync();

            // 60 messages while Bob is away: more than the 50 a rejoin returns, so only the since-recovery fills them.
            for (var i = 1; i <= 60; i++)
            {
                await alice.SendAsync($"while away {i}");
            }
            await Expect(alice.Messages.Last).ToContainTextAsync("while away 60");

            bobsWeb = await WebAppFixture.StartWebAsync(bobsWebUrl, app.ApiUrl);
            await Expect(bobInBrowser.Messages.Last).ToContainTextAsync("while away 60", new() { Timeout = 30_000 });

            var seqs = await bobPage.Locator("li.message:not(.pending)").EvaluateAllAsync<int[]>("items => items.map(i => Number(i.dataset.seq))");
            var expected = Enumerable.Range(1, 61).ToArray();
            Assert.Equal(expected, seqs);

            // Opened afresh, the room shows the latest 50; scrolling to the top loads the earlier ones, once each.
            await bobPage.ReloadAsync();
            await Expect(bobInBrowser.Messages).ToHaveCountAsync(50);
            await bobPage.GetByRole(AriaRole.List, new() { Name = "Messages" }).EvaluateAsync("list => list.scrollTop = 0");
            await Expect(bobInBrowser.Messages).ToHaveCountAsync(61);
            Assert.Equal(expected, await bobPage.Locator("li.message:not(.pending)").EvaluateAllAsync<int[]>("items => items.map(i => Number(i.dataset.seq))"));
            await Expect(bobInBrowser.Messages.First).ToContainTextAsync("before the drop");
        }
        finally
        {
            await bobsWeb.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_app_says_the_service_is_unreachable_when_the_Api_is_down()
    {
        // A web app whose Api address has nothing listening.
        var url = new Uri($"http://127.0.0.1:{WebAppFixture.FreePort()}");
        await using var web = await WebAppFixture.StartWebAsync(url, new Uri($"http://127.0.0.1:{WebAppFixture.FreePort()}"));
        await using var user = await app.NewUserAsync("lost");
        await user.Page.GotoAsync(url.ToString());

        await Expect(user.Page.GetByRole(AriaRole.Heading, new() { Name = "Conductor is not reachable" })).ToBeVisibleAsync();
        await Expect(user.Page.GetByRole(AriaRole.Button, new() { Name = "Try again", Exact = true })).ToBeVisibleAsync();
        await user.ScreenshotAsync("api-down");
    }

    [Fact]
    public async Task A_bad_sign_in_name_shows_the_problem_text_from_the_Api()
    {
        await using var user = await app.NewUserAsync("typo");
        await user.Page.GotoAsync("/");
        await user.Page.GetByLabel("Name", new() { Exact = true }).FillAsync("no spaces allowed");
        await user.Page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();

        var alert = user.Page.GetByRole(AriaRole.Alert);
        await Expect(alert).ToContainTextAsync("letters, digits or single hyphens");
        Assert.DoesNotContain("HTTP 400", await alert.InnerTextAsync(), StringComparison.Ordinal);
        await user.ScreenshotAsync("sign-in-error");
    }

    [Fact]
    public async Task Signing_out_revokes_the_session_and_returns_to_the_sign_in_page()
    {
        await using var user = await app.NewUserAsync("leaver");
        await user.SignInAsync();
        var refreshToken = await user.Page.EvaluateAsync<string>("JSON.parse(localStorage.getItem('conductor.session')).refreshToken");

        await user.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out", Exact = true }).ClickAsync();
        await Expect(user.Page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true })).ToBeVisibleAsync();

        using var http = new HttpClient { BaseAddress = app.WebUrl };
        using var refresh = await http.PostAsJsonAsync("/api/auth/refresh", new { refresh_token = refreshToken });
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
    }

    [Fact]
    public async Task Files_are_shared_by_picker_or_drop_and_a_file_over_20_MB_is_refused_as_too_large()
    {
        await using var alice = await app.NewUserAsync("sharer");
        await alice.SignInAsync();
        await CreateRoomAsync(alice, "Files");

        var chooser = alice.Page.WaitForFileChooserAsync();
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Upload file", Exact = true }).ClickAsync();
        await (await chooser).SetFilesAsync(new FilePayload { Name = "notes.txt", MimeType = "text/plain", Buffer = "release notes"u8.ToArray() });
        await Expect(alice.Messages.Last.GetByRole(AriaRole.Button, new() { Name = "notes.txt", Exact = true })).ToBeVisibleAsync();

        var download = alice.Page.WaitForDownloadAsync();
        await alice.Messages.Last.GetByRole(AriaRole.Button, new() { Name = "notes.txt", Exact = true }).ClickAsync();
        var saved = await (await download).PathAsync();
        Assert.Equal("release notes", await File.ReadAllTextAsync(saved));

        // Dropped on the chat, a file is shared the same way.
        await alice.Page.Locator("section.chat").EvaluateAsync("""
            section => {
              const data = new DataTransfer();
              data.items.add(new File(["dropped bytes"], "dropped.txt", { type: "text/plain" }));
              section.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
            }
            """);
        await Expect(alice.Messages.Last.GetByRole(AriaRole.Button, new() { Name = "dropped.txt", Exact = true })).ToBeVisibleAsync();

        chooser = alice.Page.WaitForFileChooserAsync();
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Upload file", Exact = true }).ClickAsync();
        await (await chooser).SetFilesAsync(new FilePayload { Name = "huge.bin", MimeType = "application/octet-stream", Buffer = new byte[21 * 1024 * 1024] });
        await Expect(alice.Page.GetByRole(AriaRole.Alert)).ToContainTextAsync("too large");
        await alice.ScreenshotAsync("files");
    }

    [Fact]
    public async Task The_host_ends_the_session_and_the_room_becomes_read_only_for_everyone()
    {
        await using var alice = await app.NewUserAsync("host");
        await using var bob = await app.NewUserAsync("guest");
        await alice.SignInAsync();
        await CreateRoomAsync(alice, "Wrap-up");
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Copy invite link", Exact = true }).ClickAsync();
        var invite = new Uri(await alice.Page.GetByLabel("Invite link", new() { Exact = true }).InputValueAsync());
        await bob.SignInAsync(invite.PathAndQuery);
        await bob.Page.GetByRole(AriaRole.Button, new() { Name = "Join room", Exact = true }).ClickAsync();
        await Expect(bob.Page.GetByLabel("Message", new() { Exact = true })).ToBeVisibleAsync();

        alice.Page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "End session", Exact = true }).ClickAsync();

        await Expect(alice.Page.GetByText("This room is read-only.")).ToBeVisibleAsync();
        await Expect(bob.Page.GetByText("This room is read-only.")).ToBeVisibleAsync();
        await Expect(bob.Page.GetByLabel("Message", new() { Exact = true })).ToHaveCountAsync(0);
        await bob.ScreenshotAsync("room-ended");
    }

    [Fact]
    public async Task The_host_hands_over_the_host_role_and_the_new_host_removes_the_old_one()
    {
        await using var alice = await app.NewUserAsync("first");
        await using var bob = await app.NewUserAsync("second");
        await alice.SignInAsync();
        await CreateRoomAsync(alice, "Handover");
        await RoomJourney.InviteAsync(alice, bob);
        alice.Page.Dialog += (_, dialog) => dialog.AcceptAsync();
        bob.Page.Dialog += (_, dialog) => dialog.AcceptAsync();

        await alice.Member(bob.Login).GetByRole(AriaRole.Button, new() { Name = "Make host", Exact = true }).ClickAsync();
        await Expect(bob.Member(bob.Login)).ToContainTextAsync("host");
        await Expect(bob.Page.GetByRole(AriaRole.Button, new() { Name = "End session", Exact = true })).ToBeVisibleAsync();
        await Expect(alice.Member(alice.Login)).ToContainTextAsync("guest");
        await Expect(alice.Page.GetByRole(AriaRole.Button, new() { Name = "Copy invite link", Exact = true })).ToHaveCountAsync(0);

        await bob.Member(alice.Login).GetByRole(AriaRole.Button, new() { Name = "Remove", Exact = true }).ClickAsync();
        await Expect(alice.Page.GetByText("You were removed from this room.")).ToBeVisibleAsync();
        await Expect(alice.Page.GetByLabel("Message", new() { Exact = true })).ToHaveCountAsync(0);
        await Expect(bob.Member(alice.Login)).ToHaveCountAsync(0);
        await alice.ScreenshotAsync("removed");
    }

    [Fact]
    public async Task Tokens_are_refreshed_before_they_expire_and_the_app_keeps_working()
    {
        // An Api whose access tokens live 4 s: the app must refresh every ~2 s, without a loop and without a 401.
        var (api, apiUrl) = await ServiceInstance.StartListeningAsync("Conductor.Api", new Dictionary<string, string?>
        {
            ["ConnectionStrings__conductordb"] = await app.Postgres.CreateDatabaseAsync("webrefresh"),
            ["ConnectionStrings__redis"] = app.Redis.ConnectionString,
            ["Auth__DevLogin"] = "true",
            ["Auth__RateLimit__PermitLimit"] = "100000",
            ["Auth__AccessTokenLifetime"] = "00:00:04",
        }, TimeSpan.FromSeconds(90));
        await using var _ = api;
        var webUrl = new Uri($"http://127.0.0.1:{WebAppFixture.FreePort()}");
        await using var web = await WebAppFixture.StartWebAsync(webUrl, apiUrl);
        await using var user = await app.NewUserAsync("refresh");
        await user.Page.GotoAsync(webUrl.ToString());
        var view = new BrowserView(user.Page);
        await view.SignInAsync(user.Login);

        const string AccessToken = "JSON.parse(localStorage.getItem('conductor.session')).accessToken";
        var seen = new HashSet<string> { await user.Page.EvaluateAsync<string>(AccessToken) };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (seen.Count < 3)
        {
            await Task.Delay(250, timeout.Token);
            seen.Add(await user.Page.EvaluateAsync<string>(AccessToken));
        }

        // Well past the first token's expiry, the app still works with the refreshed ones.
        await user.Page.GetByLabel("Room name", new() { Exact = true }).FillAsync("Still signed in");
        await user.Page.GetByRole(AriaRole.Button, new() { Name = "Create room", Exact = true }).ClickAsync();
        await Expect(user.Page.GetByRole(AriaRole.Status).GetByText("Live")).ToBeVisibleAsync();
        Assert.Empty(user.FailedLoads);
        Assert.Empty(user.ConsoleErrors);
    }

    [Fact]
    public async Task GitHub_sign_in_shows_the_user_code_and_link_and_signs_in_once_approved()
    {
        await using var gitHub = await Auth.FakeGitHub.StartAsync();
        var (api, apiUrl) = await ServiceInstance.StartListeningAsync("Conductor.Api", new Dictionary<string, string?>
        {
            ["ConnectionStrings__conductordb"] = await app.Postgres.CreateDatabaseAsync("webgithub"),
            ["ConnectionStrings__redis"] = app.Redis.ConnectionString,
            ["Auth__RateLimit__PermitLimit"] = "100000",
            ["Auth__GitHub__ClientId"] = Auth.FakeGitHub.ClientId,
            ["Auth__GitHub__BaseUrl"] = gitHub.BaseUrl.AbsoluteUri,
            ["Auth__GitHub__ApiUrl"] = gitHub.ApiUrl.AbsoluteUri,
        }, TimeSpan.FromSeconds(90));
        await using var _ = api;
        var webUrl = new Uri($"http://127.0.0.1:{WebAppFixture.FreePort()}");
        await using var web = await WebAppFixture.StartWebAsync(webUrl, apiUrl);
        await using var user = await app.NewUserAsync("octo");
        await user.Page.GotoAsync(webUrl.ToString());

        await user.Page.GetByRole(AriaRole.Button, new() { Name = "Sign in with GitHub", Exact = true }).ClickAsync();
        await Expect(user.Page.Locator(".user-code")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^\d{4}-\d{4}$"));
        await Expect(user.Page.GetByRole(AriaRole.Link, new() { Name = new Uri(gitHub.BaseUrl, "/login/device").AbsoluteUri })).ToBeVisibleAsync();
        await user.ScreenshotAsync("sign-in-github");

        // The app polls at GitHub's interval; the first poll names the device code, which the user then approves.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string? deviceCode = null;
        while (deviceCode is null)
        {
            await Task.Delay(200, timeout.Token);
            deviceCode = gitHub.Requests.FirstOrDefault(r => r.PathAndQuery.StartsWith("/login/oauth/access_token", StringComparison.Ordinal))
                ?.Form.GetValueOrDefault("device_code");
        }
        gitHub.SetDevice(deviceCode, Auth.FakeGitHub.DeviceStatus.Approved, 4242, user.Login);
        await Expect(user.Page.GetByText($"Signed in as {user.Login}")).ToBeVisibleAsync(new() { Timeout = 20_000 });
        Assert.Empty(user.ConsoleErrors);
    }

    [Fact]
    public async Task Signing_in_creating_a_room_and_chatting_work_from_the_keyboard_with_visible_focus()
    {
        await using var user = await app.NewUserAsync("keys");
        await user.Page.GotoAsync("/");
        await Expect(user.Page.GetByLabel("Name", new() { Exact = true })).ToBeFocusedAsync();
        await user.Page.Keyboard.TypeAsync(user.Login);
        await user.Page.Keyboard.PressAsync("Enter");
        await Expect(user.Page.GetByText($"Signed in as {user.Login}")).ToBeVisibleAsync();

        await TabToAsync(user.Page, "room-name");
        await user.Page.Keyboard.TypeAsync("Keyboard room");
        await user.Page.Keyboard.PressAsync("Enter");
        await Expect(user.Page.GetByRole(AriaRole.Status).GetByText("Live")).ToBeVisibleAsync();

        await TabToAsync(user.Page, "message");
        await user.Page.Keyboard.TypeAsync("typed, not clicked");
        await user.Page.Keyboard.PressAsync("Enter");
        await Expect(user.Messages.Last).ToContainTextAsync("typed, not clicked");

        // Focus is visible on every kind of control reached by Tab.
        await user.Page.Keyboard.PressAsync("Tab");
        var outline = await user.Page.EvaluateAsync<string>("getComputedStyle(document.activeElement).outlineStyle");
        Assert.NotEqual("none", outline);
    }

    private static async Task TabToAsync(IPage page, string id)
    {
        for (var i = 0; i < 30; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await page.EvaluateAsync<string>("document.activeElement?.id ?? ''") == id)
            {
                return;
            }
        }
        Assert.Fail($"#{id} cannot be reached with Tab");
    }

    [Fact]
    public async Task The_room_fits_a_narrow_window()
    {
        await using var alice = await app.NewUserAsync("narrow");
        await alice.Page.SetViewportSizeAsync(420, 800);
        await alice.SignInAsync();
        await CreateRoomAsync(alice, "Phone");
        await alice.SendAsync("fits");
        var overflow = await alice.Page.EvaluateAsync<bool>("document.documentElement.scrollWidth > window.innerWidth");
        Assert.False(overflow, "the page scrolls sideways at 420 px");
        await alice.ScreenshotAsync("room-narrow");
    }

    private static Task<Guid> CreateRoomAsync(BrowserUser user, string name) => RoomJourney.CreateRoomAsync(user, name);

    /// <summary>A page of a user that is not the context's first (e.g. on another web origin).</summary>
    private sealed class BrowserView(IPage page)
    {
        public ILocator Messages => page.GetByRole(AriaRole.List, new() { Name = "Messages" }).Locator("li.message:not(.pending)");

        public async Task SignInAsync(string login)
        {
            await page.GetByLabel("Name", new() { Exact = true }).FillAsync(login);
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
            await Expect(page.GetByText($"Signed in as {login}")).ToBeVisibleAsync();
        }
    }
}
