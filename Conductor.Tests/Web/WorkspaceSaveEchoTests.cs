using System.Net;
using System.Net.Http.Json;
using Conductor.Tests.Ai;
using Conductor.Tests.Auth;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Conductor.Tests.Web;

/// <summary>
/// A save announces itself to the room (a <c>file_changed</c> event), the saver's own page included, and the page reads
/// the file again when it hears it. That echo and the save's own answer race: these tests hold both answers in the
/// browser's network layer and release them in a chosen order, so the order the page sees is not left to chance.
/// (WorkspaceJourneyTests once failed here: Alice's first save showed "Someone else saved src/app.cs" when nobody had.)
/// </summary>
[Collection(WebAppCollection.Name)]
public sealed class WorkspaceSaveEchoTests(WebAppFixture app)
{
    private const string Original = "class App\n{\n}\n";
    private const string BusyMark = "test: main thread busy";

    [Theory]
    [InlineData("answer first")]
    [InlineData("echo first")]
    public async Task A_member_s_own_save_is_never_shown_as_someone_else_s_whichever_of_its_answer_and_its_echo_arrives_first(string order)
    {
        var (alice, api, roomId) = await OpenWorkspaceAsync();
        await using (alice)
        using (api)
        {
            var page = alice.Page;
            var held = new HeldAnswers();
            await page.RouteAsync(url => url.Contains("/file?path=src%2Fapp.cs", StringComparison.Ordinal), held.HandleAsync);

            await OpenAppFileAsync(page);
            await TypeAtEndAsync(page, "// mine");
            // Not even for a moment: the page notes whether the conflict bar ever appeared.
            await page.EvaluateAsync("""
                () => {
                  window.sawConflict = false;
                  new MutationObserver(() => { window.sawConflict ||= document.querySelector(".conflict") !== null; })
                    .observe(document.body, { subtree: true, childList: true });
                }
                """);
            held.Hold();
            await page.GetByRole(AriaRole.Button, new() { Name = "Save", Exact = true }).ClickAsync();
            var (save, echo) = await held.BothAsync();
            // The page's main thread is kept busy while both answers are released, so both wait in its task queue and are
            // handled back to back, before React renders the first one's change (as on a loaded CI machine). The answers
            // are released once the page says it is busy.
            var busySaid = page.WaitForConsoleMessageAsync(new() { Predicate = message => message.Text == BusyMark });
            var busy = page.EvaluateAsync($"() => {{ console.info('{BusyMark}'); const end = performance.now() + 1500; while (performance.now() < end) {{ }} }}");
            await busySaid;
            var (first, second) = order == "answer first" ? (save, echo) : (echo, save);
            await first.ReleaseAsync();
            await second.ReleaseAsync();
            await busy;

            await Expect(page.GetByText("Saved src/app.cs.")).ToBeVisibleAsync();
            await Expect(page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "Someone else saved" })).ToHaveCountAsync(0);
            await Expect(page.Locator(".editor-bar .dirty")).ToHaveCountAsync(0);
            Assert.False(await page.EvaluateAsync<bool>("() => window.sawConflict"), "the conflict bar appeared after the member's own save");
            Assert.Contains("// mine", await File.ReadAllTextAsync(Path.Combine(app.WorkspaceRoot, "worktrees", roomId.ToString("D"), "src", "app.cs")));

            // The guarantee stays: a save from elsewhere (another tab, through the Api) while the page has edits is a conflict.
            await TypeAtEndAsync(page, "// more of mine");
            var current = await ApiClient.ExpectAsync(await api.GetAsync($"/workspace/{roomId:D}/file?path=src/app.cs"), HttpStatusCode.OK);
            using var theirs = new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId:D}/file?path=src/app.cs")
            {
                Content = JsonContent.Create(new { content = "class Theirs\n{\n}\n", encoding = "utf-8" }),
            };
            theirs.Headers.TryAddWithoutValidation("If-Match", current.GetProperty("etag").GetString());
            await ApiClient.ExpectAsync(await api.SendAsync(theirs), HttpStatusCode.OK);
            await Expect(page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "Someone else saved src/app.cs" })).ToBeVisibleAsync();
            await Expect(page.Locator(".code-editor .view-lines")).ToContainTextAsync("more of mine");
            Assert.Empty(alice.ConsoleErrors);
        }
    }

    /// <summary>Alice signs in to a room with a ready workspace holding src/app.cs and opens its Workspace tab.</summary>
    private async Task<(BrowserUser Alice, ApiClient Api, Guid RoomId)> OpenWorkspaceAsync()
    {
        using var anonymous = new ApiClient(app.ApiUrl);
        var signedIn = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("alice"));
        var api = new ApiClient(app.ApiUrl, signedIn.AccessToken);
        var room = await ApiClient.ExpectAsync(await api.PostAsync("/rooms", new { name = "Save echo" }), HttpStatusCode.Created);
        var roomId = room.GetProperty("room_id").GetGuid();
        var worktree = Path.Combine(app.WorkspaceRoot, "worktrees", roomId.ToString("D"));
        await ConductorApiFixture.SeedReadyWorkspaceAsync(app.ConnectionString, worktree, roomId, signedIn.UserId);
        Directory.CreateDirectory(Path.Combine(worktree, "src"));
        await File.WriteAllTextAsync(Path.Combine(worktree, "src", "app.cs"), Original);

        var alice = await app.NewUserAsync(signedIn.Login);
        await alice.Page.GotoAsync($"/rooms/{roomId:D}");
        await alice.Page.GetByLabel("Name", new() { Exact = true }).FillAsync(signedIn.Login);
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Expect(alice.Page.GetByRole(AriaRole.Status).GetByText("Live")).ToBeVisibleAsync();
        await alice.Page.GetByRole(AriaRole.Tab, new() { Name = "Workspace", Exact = true }).ClickAsync();
        return (alice, api, roomId);
    }

    private static async Task OpenAppFileAsync(IPage page)
    {
        var files = page.GetByRole(AriaRole.List, new() { Name = "Files" });
        await files.GetByRole(AriaRole.Button, new() { Name = "src/app.cs", Exact = true }).ClickAsync();
        await Expect(page.Locator(".code-editor .view-lines")).ToContainTextAsync("class App");
    }

    private static async Task TypeAtEndAsync(IPage page, string text)
    {
        await page.Locator(".code-editor .view-lines").ClickAsync();
        await page.Keyboard.PressAsync("Control+End");
        await page.Keyboard.PressAsync("Enter");
        await page.Keyboard.TypeAsync(text);
        await Expect(page.Locator(".editor-bar .dirty")).ToBeVisibleAsync();
    }

    /// <summary>
    /// Once <see cref="Hold"/> is called, the next PUT of the file (the save) and the next GET of it (the page reading the
    /// echo) reach the Api at once, but their answers are kept from the page until the test releases them.
    /// </summary>
    private sealed class HeldAnswers
    {
        private readonly TaskCompletionSource<HeldAnswer> _save = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<HeldAnswer> _echo = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _holding;

        public void Hold() => _holding = true;

        public async Task HandleAsync(IRoute route)
        {
            if (!_holding)
            {
                await route.ContinueAsync();
                return;
            }
            var held = route.Request.Method == "PUT" ? _save : route.Request.Method == "GET" ? _echo : null;
            var answer = await route.FetchAsync();
            if (held is null || !held.TrySetResult(new HeldAnswer(route, answer)))
            {
                await route.FulfillAsync(new RouteFulfillOptions { Response = answer });
            }
        }

        public async Task<(HeldAnswer Save, HeldAnswer Echo)> BothAsync()
        {
            // The echo is best effort (a Redis publish); in this fixture it always comes, well within the time out.
            var save = await _save.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var echo = await _echo.Task.WaitAsync(TimeSpan.FromSeconds(30));
            return (save, echo);
        }
    }

    private sealed record HeldAnswer(IRoute Route, IAPIResponse Answer)
    {
        public Task ReleaseAsync() => Route.FulfillAsync(new RouteFulfillOptions { Response = Answer });
    }
}
