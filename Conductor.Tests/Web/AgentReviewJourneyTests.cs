using System.Net;
using System.Text.Json;
using Conductor.Tests.Ai;
using Conductor.Tests.Auth;
using Microsoft.Playwright;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using static Microsoft.Playwright.Assertions;

namespace Conductor.Tests.Web;

/// <summary>
/// Issue 16's acceptance in a real browser: a member's coding agent, connected to <c>/mcp</c> with the member's token
/// (the MCP C# client), reads the room and proposes changes; another member sees the proposal arrive in the web app
/// without reloading, reviews the diffs, applies one change and skips the other. (A non-member's agent reading nothing
/// is McpServerTests' A_non_member_s_agent_reads_nothing_and_proposes_nothing.)
/// </summary>
[Collection(WebAppCollection.Name)]
public sealed class AgentReviewJourneyTests(WebAppFixture app)
{
    [Fact]
    public async Task A_coding_agent_s_proposal_appears_live_for_review_and_each_decision_reaches_the_workspace_and_the_audit_trail()
    {
        // Alice hosts a room with a ready workspace; Bob is a member whose coding agent works in it.
        using var anonymous = new ApiClient(app.ApiUrl);
        var alice = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("alice"));
        var bob = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("bob"));
        using var aliceApi = new ApiClient(app.ApiUrl, alice.AccessToken);
        using var bobApi = new ApiClient(app.ApiUrl, bob.AccessToken);
        var room = await ApiClient.ExpectAsync(await aliceApi.PostAsync("/rooms", new { name = "Agent review" }), HttpStatusCode.Created);
        var roomId = room.GetProperty("room_id").GetGuid();
        var worktree = Path.Combine(app.WorkspaceRoot, "worktrees", roomId.ToString("D"));
        await ConductorApiFixture.SeedReadyWorkspaceAsync(app.ConnectionString, worktree, roomId, alice.UserId);
        Directory.CreateDirectory(Path.Combine(worktree, "src"));
        await File.WriteAllTextAsync(Path.Combine(worktree, "package.json"), "{\"name\":\"demo\"}\n");
        await File.WriteAllTextAsync(Path.Combine(worktree, "src/app.ts"), "export const answer = 41;\n");
        var invite = await ApiClient.ExpectAsync(await aliceApi.PostAsync($"/rooms/{roomId}/invites", new { }), HttpStatusCode.Created);
        await ApiClient.ExpectAsync(await bobApi.PostAsync("/rooms/join", new { token = invite.GetProperty("token").GetString() }), HttpStatusCode.OK);
        await ApiClient.ExpectAsync(await aliceApi.PostAsync($"/chat/{roomId}/messages", new { content = "the answer should be 42" }), HttpStatusCode.Created);

        // Alice (and Bob, watching) open the room's AI tab in the browser: nothing waits for review yet.
        await using var aliceBrowser = await OpenReviewAsync(alice.Login, roomId);
        await using var bobBrowser = await OpenReviewAsync(bob.Login, roomId);
        var proposed = aliceBrowser.Page.GetByRole(AriaRole.List, new() { Name = "Proposed changes" });
        await Expect(proposed).ToContainTextAsync("Nothing waits for review.");

        // Bob's agent finds the room, reads the chat and the file, and proposes two changes.
        await using var agent = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(app.ApiUrl, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {bob.AccessToken}" },
        }), new McpClientOptions { ClientInfo = new Implementation { Name = "review-agent", Version = "1.0" } });
        var rooms = await CallAsync(agent, "list_rooms", []);
        Assert.Contains(rooms.GetProperty("rooms").EnumerateArray(), r => r.GetProperty("room_id").GetGuid() == roomId);
        var chat = await CallAsync(agent, "read_chat", new() { ["room_id"] = roomId.ToString() });
        Assert.Contains(chat.GetProperty("messages").EnumerateArray(), m => m.GetProperty("content").GetString() == "the answer should be 42");
        var file = await CallAsync(agent, "read_file", new() { ["room_id"] = roomId.ToString(), ["path"] = "src/app.ts" });
        Assert.Equal("export const answer = 41;\n", file.GetProperty("content").GetString());
        var proposal = await CallAsync(agent, "propose_changes", new()
        {
            ["room_id"] = roomId.ToString(),
            ["description"] = "Answer 42 and version the package",
            ["changes"] = new object[]
            {
                new { file_path = "src/app.ts", type = "modify", content = "export const answer = 42;\n", rationale = "as asked in chat" },
                new { file_path = "package.json", type = "modify", content = "{\"name\":\"demo\",\"version\":\"2.0.0\"}\n", rationale = "a release" },
            },
        });
        // A configuration file puts the set under review: nothing is written yet.
        Assert.Equal(("pending", "review_required"), (proposal.GetProperty("status").GetString(), proposal.GetProperty("decision").GetString()));
        var setId = proposal.GetProperty("change_set_id").GetGuid();
        Assert.Equal("export const answer = 41;\n", await File.ReadAllTextAsync(Path.Combine(worktree, "src/app.ts")));

        // The proposal appears in Alice's list without a reload: who, through what, the verdict, what is left.
        var entry = proposed.Locator($"li[data-change-set='{setId:D}']");
        await Expect(entry).ToContainTextAsync("Answer 42 and version the package");
        await Expect(entry).ToContainTextAsync($"{bob.Login}'s coding agent (mcp:review-agent)");
        await Expect(entry).ToContainTextAsync("review required");
        await Expect(entry.Locator(".progress")).ToHaveTextAsync("2 of 2 pending");
        await aliceBrowser.ScreenshotAsync("agent-proposal-listed");

        // Both open it; Alice applies the code change and skips the package change.
        await bobBrowser.Page.Locator($"li[data-change-set='{setId:D}']").GetByRole(AriaRole.Button, new() { Name = "Review", Exact = true }).ClickAsync();
        await entry.GetByRole(AriaRole.Button, new() { Name = "Review", Exact = true }).ClickAsync();
        var opened = aliceBrowser.Page.GetByRole(AriaRole.Region, new() { Name = "Opened change set" });
        await Expect(opened.Locator(".policy")).ToContainTextAsync("Policy: review required");
        var appChange = opened.Locator("article.change[data-file='src/app.ts']");
        var packageChange = opened.Locator("article.change[data-file='package.json']");
        await Expect(appChange.Locator(".monaco-diff-editor")).ToBeVisibleAsync();
        await Expect(packageChange.Locator(".monaco-diff-editor")).ToBeVisibleAsync();
        await aliceBrowser.ScreenshotAsync("agent-proposal-review");
        await appChange.GetByRole(AriaRole.Button, new() { Name = "Apply", Exact = true }).ClickAsync();
        await Expect(appChange.GetByRole(AriaRole.Status)).ToHaveTextAsync("Applied.");
        await packageChange.GetByRole(AriaRole.Button, new() { Name = "Skip", Exact = true }).ClickAsync();
        await Expect(packageChange.GetByRole(AriaRole.Status)).ToHaveTextAsync("Skipped.");

        // Every decided change leaves the pending list, and Bob's open review follows Alice's decisions live.
        await Expect(proposed).ToContainTextAsync("Nothing waits for review.");
        var audit = aliceBrowser.Page.GetByRole(AriaRole.List, new() { Name = "Audit trail" });
        await Expect(audit.Locator("li").Filter(new() { HasText = "src/app.ts" })).ToContainTextAsync("applied");
        await Expect(audit.Locator("li").Filter(new() { HasText = "package.json" })).ToContainTextAsync("skipped");
        var bobOpened = bobBrowser.Page.GetByRole(AriaRole.Region, new() { Name = "Opened change set" });
        await Expect(bobOpened.Locator("article.change[data-file='src/app.ts']").GetByRole(AriaRole.Status)).ToHaveTextAsync("Applied.");
        await Expect(bobOpened.Locator("article.change[data-file='package.json']").GetByRole(AriaRole.Status)).ToHaveTextAsync("Skipped.");
        await aliceBrowser.Page.GetByLabel("Show decided", new() { Exact = true }).CheckAsync();
        await Expect(entry.Locator(".progress")).ToHaveTextAsync("1 applied, 1 skipped");
        await aliceBrowser.ScreenshotAsync("agent-proposal-decided");

        // The workspace has the applied change only, and the audit trail records each decision as Alice's.
        Assert.Equal("export const answer = 42;\n", await File.ReadAllTextAsync(Path.Combine(worktree, "src/app.ts")));
        Assert.Equal("{\"name\":\"demo\"}\n", await File.ReadAllTextAsync(Path.Combine(worktree, "package.json")));
        var trail = await ApiClient.ExpectAsync(await bobApi.GetAsync($"/audit?room_id={roomId}"), HttpStatusCode.OK);
        var decisions = trail.GetProperty("entries").EnumerateArray()
            .Where(e => e.GetProperty("change_set_id").ValueKind == JsonValueKind.String && e.GetProperty("change_set_id").GetGuid() == setId)
            .Select(e => (e.GetProperty("file_path").GetString(), e.GetProperty("action").GetString(), e.GetProperty("source").GetString(),
                e.GetProperty("user_id").GetGuid()))
            .ToList();
        Assert.Equal([("src/app.ts", "applied", "server", alice.UserId), ("package.json", "skipped", "client", alice.UserId)], decisions);
        var set = await ApiClient.ExpectAsync(await bobApi.GetAsync($"/changes/{setId}"), HttpStatusCode.OK);
        Assert.Equal(["applied", "skipped"], set.GetProperty("changes").EnumerateArray().Select(c => c.GetProperty("status").GetString()));

        Assert.Empty(aliceBrowser.ConsoleErrors);
        Assert.Empty(bobBrowser.ConsoleErrors);
    }

    private async Task<BrowserUser> OpenReviewAsync(string login, Guid roomId)
    {
        var user = await app.NewUserAsync(login);
        var page = user.Page;
        await page.GotoAsync($"/rooms/{roomId:D}");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync(login);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status).GetByText("Live")).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Tab, new() { Name = "AI", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.List, new() { Name = "Proposed changes" })).Not.ToContainTextAsync("Loading");
        return user;
    }

    private static async Task<JsonElement> CallAsync(McpClient client, string tool, Dictionary<string, object?> arguments)
    {
        var result = await client.CallToolAsync(tool, arguments);
        var text = string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text));
        Assert.False(result.IsError == true, $"{tool}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
