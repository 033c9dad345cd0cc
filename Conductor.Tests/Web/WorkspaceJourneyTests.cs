using Conductor.Tests.Workspaces;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Conductor.Tests.Web;

[Collection(WebAppCollection.Name)]
public sealed class WorkspaceJourneyTests(WebAppFixture app)
{
    [Fact]
    public async Task Two_members_clone_edit_see_each_others_saves_search_review_ai_changes_and_push_to_the_remote()
    {
        var remote = TestGit.CreateRemote(app.Remotes, $"team-{Guid.NewGuid():N}.git");
        await using var alice = await app.NewUserAsync("alice");
        await using var bob = await app.NewUserAsync("bob");
        await alice.SignInAsync();
        var roomId = await RoomJourney.CreateRoomAsync(alice, "Workspace");
        await RoomJourney.InviteAsync(alice, bob);

        // Alice opens the workspace from the room's Workspace tab.
        await alice.Page.GetByRole(AriaRole.Tab, new() { Name = "Workspace", Exact = true }).ClickAsync();
        await alice.Page.GetByLabel("Repository URL", new() { Exact = true }).FillAsync("file://" + remote);
        await Expect(alice.Page.GetByLabel("Access token", new() { Exact = true })).ToHaveAttributeAsync("type", "password");
        await alice.ScreenshotAsync("workspace-create");
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Create workspace", Exact = true }).ClickAsync();
        var files = alice.Page.GetByRole(AriaRole.List, new() { Name = "Files" });
        await Expect(files.GetByRole(AriaRole.Button, new() { Name = "src/app.cs", Exact = true })).ToBeVisibleAsync(new() { Timeout = 60_000 });

        // Alice edits and saves a file; Bob opens it and sees her change.
        await files.GetByRole(AriaRole.Button, new() { Name = "src/app.cs", Exact = true }).ClickAsync();
        await TypeAtEndAsync(alice.Page, "// reviewed by alice");
        await Expect(alice.Page.GetByText("unsaved")).ToBeVisibleAsync();
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Save", Exact = true }).ClickAsync();
        await Expect(alice.Page.GetByText("Saved src/app.cs.")).ToBeVisibleAsync();
        await alice.ScreenshotAsync("workspace-editor");

        await bob.Page.GetByRole(AriaRole.Tab, new() { Name = "Workspace", Exact = true }).ClickAsync();
        var bobFiles = bob.Page.GetByRole(AriaRole.List, new() { Name = "Files" });
        await bobFiles.GetByRole(AriaRole.Button, new() { Name = "src/app.cs", Exact = true }).ClickAsync();
        await Expect(bob.Page.Locator(".code-editor .view-lines")).ToContainTextAsync("reviewed by alice");

        // Both edit README.md; Alice saves first. Bob's edits are kept and the conflict is shown, never overwritten.
        await bobFiles.GetByRole(AriaRole.Button, new() { Name = "README.md", Exact = true }).ClickAsync();
        await Expect(bob.Page.Locator(".code-editor .view-lines")).ToContainTextAsync("Hello Conductor");
        await TypeAtEndAsync(bob.Page, "bob was here");
        await files.GetByRole(AriaRole.Button, new() { Name = "README.md", Exact = true }).ClickAsync();
        await Expect(alice.Page.Locator(".code-editor .view-lines")).ToContainTextAsync("Hello Conductor");
        await TypeAtEndAsync(alice.Page, "alice was here");
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Save", Exact = true }).ClickAsync();
        await Expect(alice.Page.GetByText("Saved README.md.")).ToBeVisibleAsync();
        await Expect(bob.Page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "Someone else saved README.md" })).ToBeVisibleAsync();
        await Expect(bob.Page.Locator(".code-editor .view-lines")).ToContainTextAsync("bob was here");
        await bob.ScreenshotAsync("workspace-conflict");
        Assert.Contains("alice was here", await File.ReadAllTextAsync(Path.Combine(app.WorkspaceRoot, "worktrees", roomId.ToString("D"), "README.md")));
        await bob.Page.GetByRole(AriaRole.Button, new() { Name = "Load their version", Exact = true }).ClickAsync();
        await Expect(bob.Page.Locator(".code-editor .view-lines")).ToContainTextAsync("alice was here");

        // Bob searches (Ctrl+Shift+F focuses the box) and opens a result at its line.
        await bob.Page.Keyboard.PressAsync("Control+Shift+F");
        await Expect(bob.Page.GetByLabel("Search", new() { Exact = true })).ToBeFocusedAsync();
        await bob.Page.Keyboard.TypeAsync("writeline");
        await bob.Page.GetByLabel("Files to include", new() { Exact = true }).FillAsync("*.cs");
        await bob.Page.GetByRole(AriaRole.Button, new() { Name = "Find", Exact = true }).ClickAsync();
        var results = bob.Page.GetByRole(AriaRole.Region, new() { Name = "Search results" });
        await Expect(results.GetByRole(AriaRole.Heading, new() { Name = "src/app.cs" })).ToBeVisibleAsync();
        await Expect(results.Locator("mark")).ToHaveTextAsync("WriteLine");
        await bob.ScreenshotAsync("workspace-search");
        await results.Locator("button.search-hit").First.ClickAsync();
        await Expect(bob.Page.Locator(".editor-bar .path")).ToHaveTextAsync("src/app.cs");

        // Alice asks the (offline, built-in) mock provider: the answer streams in.
        await alice.Page.GetByRole(AriaRole.Tab, new() { Name = "AI", Exact = true }).ClickAsync();
        await Expect(alice.Page.Locator("tr[data-provider='mock']")).ToContainTextAsync("available");
        await alice.Page.GetByLabel("Prompt", new() { Exact = true }).FillAsync("Say hello to the room");
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Ask", Exact = true }).ClickAsync();
        await Expect(alice.Page.GetByRole(AriaRole.Region, new() { Name = "Answer" })).Not.ToBeEmptyAsync();
        await Expect(alice.Page.GetByRole(AriaRole.Button, new() { Name = "Stop", Exact = true })).ToBeDisabledAsync();

        // She generates changes for two files, reviews the policy and the diffs, applies one and skips the other.
        await alice.Page.GetByLabel("Describe the change", new() { Exact = true }).FillAsync("Add a review note");
        await alice.Page.GetByLabel("README.md", new() { Exact = true }).CheckAsync();
        await alice.Page.GetByLabel("src/app.cs", new() { Exact = true }).CheckAsync();
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Generate changes", Exact = true }).ClickAsync();
        await Expect(alice.Page.Locator(".policy")).ToContainTextAsync("Policy:");
        var appChange = alice.Page.Locator("article.change[data-file='src/app.cs']");
        var readmeChange = alice.Page.Locator("article.change[data-file='README.md']");
        await Expect(appChange.Locator(".monaco-diff-editor")).ToBeVisibleAsync();
        await alice.ScreenshotAsync("change-review");
        await appChange.GetByRole(AriaRole.Button, new() { Name = "Apply", Exact = true }).ClickAsync();
        await Expect(appChange.GetByRole(AriaRole.Status)).ToHaveTextAsync("Applied.");
        await readmeChange.GetByRole(AriaRole.Button, new() { Name = "Skip", Exact = true }).ClickAsync();
        await Expect(readmeChange.GetByRole(AriaRole.Status)).ToHaveTextAsync("Skipped.");
        var audit = alice.Page.GetByRole(AriaRole.List, new() { Name = "Audit trail" });
        await Expect(audit.Locator("li").Filter(new() { HasText = "src/app.cs" })).ToContainTextAsync("applied");
        await Expect(audit.Locator("li").Filter(new() { HasText = "README.md" })).ToContainTextAsync("skipped");
        await alice.ScreenshotAsync("change-review-done");
        await alice.Page.GetByRole(AriaRole.Tab, new() { Name = "Workspace", Exact = true }).ClickAsync();

        // Alice commits and pushes; the remote has the commit on the session branch.
        await alice.Page.GetByLabel("Commit message", new() { Exact = true }).FillAsync("Review notes from the room");
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Commit", Exact = true }).ClickAsync();
        var result = alice.Page.Locator(".commit-result");
        await Expect(result).ToContainTextAsync("and pushed session/", new() { Timeout = 60_000 });
        await alice.ScreenshotAsync("workspace-committed");
        var subject = TestGit.Run(remote, "log", "-1", "--format=%s", $"session/{roomId:D}").Trim();
        Assert.Equal("Review notes from the room", subject);
        var pushedReadme = TestGit.Run(remote, "show", $"session/{roomId:D}:README.md");
        Assert.Contains("alice was here", pushedReadme, StringComparison.Ordinal);
        Assert.DoesNotContain("Add a review note", pushedReadme, StringComparison.Ordinal); // skipped
        Assert.Contains("Add a review note", TestGit.Run(remote, "show", $"session/{roomId:D}:src/app.cs"), StringComparison.Ordinal); // applied
        Assert.Contains(TestGit.Run(remote, "rev-parse", $"session/{roomId:D}").Trim()[..12], await result.InnerTextAsync(), StringComparison.Ordinal);

        Assert.Empty(alice.ConsoleErrors);
        Assert.Empty(bob.ConsoleErrors);
        // The only failed request: "no workspace yet" (404) when the tab first opened.
        Assert.All(alice.FailedLoads.Concat(bob.FailedLoads), failed =>
            Assert.True(failed.Contains("status of 404", StringComparison.Ordinal) && failed.Contains($"/api/workspace/{roomId:D}", StringComparison.Ordinal), failed));
    }

    /// <summary>Puts the cursor at the end of the document in Monaco and types a new last line.</summary>
    private static async Task TypeAtEndAsync(IPage page, string text)
    {
        await page.Locator(".code-editor .view-lines").ClickAsync();
        await page.Keyboard.PressAsync("Control+End");
        await page.Keyboard.PressAsync("Enter");
        await page.Keyboard.TypeAsync(text);
    }
}
