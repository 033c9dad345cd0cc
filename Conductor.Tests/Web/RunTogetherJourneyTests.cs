using System.Text.RegularExpressions;
using Conductor.Tests.Workspaces;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Conductor.Tests.Web;

/// <summary>
/// Issue 15's acceptance in the browser: a member runs the room's tests from the Commands tab and another member sees
/// the output arrive live and the result; the host opens a terminal that a guest watches (and types into once granted).
/// Everything is asserted on what the pages show: the output panes' text and xterm.js's rendered rows.
/// </summary>
[Collection(WebAppCollection.Name)]
public sealed partial class RunTogetherJourneyTests(WebAppFixture app)
{
    /// <summary>
    /// The room's tests: three checks a little apart, then a wait for a file the test creates (so "still running"
    /// is seen for certain, without a timed test), then the verdict. Recipe lines start with a tab.
    /// </summary>
    private const string Makefile = "test:\n"
        + "\t@echo \"running 3 checks\"\n"
        + "\t@for i in 1 2 3; do sleep 0.3; echo \"check $$i ok\"; done\n"
        + "\t@n=0; until [ -e .release ] || [ $$n -ge 300 ]; do sleep 0.1; n=$$((n+1)); done; test -e .release\n"
        + "\t@echo \"all checks ok\"\n";

    [Fact]
    public async Task A_member_runs_the_tests_another_watches_them_live_and_a_guest_watches_the_hosts_terminal()
    {
        var remote = TestGit.CreateRemote(app.Remotes, $"run-{Guid.NewGuid():N}.git");
        AddFile(remote, "Makefile", Makefile);
        await using var alice = await app.NewUserAsync("alice");
        await using var bob = await app.NewUserAsync("bob");
        await alice.SignInAsync();
        var roomId = await RoomJourney.CreateRoomAsync(alice, "Run together");
        await RoomJourney.InviteAsync(alice, bob);
        var worktree = Path.Combine(app.WorkspaceRoot, "worktrees", roomId.ToString("D"));

        await alice.Page.GetByRole(AriaRole.Tab, new() { Name = "Workspace", Exact = true }).ClickAsync();
        await alice.Page.GetByLabel("Repository URL", new() { Exact = true }).FillAsync("file://" + remote);
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Create workspace", Exact = true }).ClickAsync();
        await Expect(alice.Page.GetByRole(AriaRole.List, new() { Name = "Files" }).GetByRole(AriaRole.Button, new() { Name = "Makefile", Exact = true }))
            .ToBeVisibleAsync(new() { Timeout = 60_000 });

        // Bob watches the Commands tab; Alice runs the room's tests from hers.
        await bob.Page.GetByRole(AriaRole.Tab, new() { Name = "Commands", Exact = true }).ClickAsync();
        await alice.Page.GetByRole(AriaRole.Tab, new() { Name = "Commands", Exact = true }).ClickAsync();
        await alice.Page.GetByLabel("Command", new() { Exact = true }).FillAsync("make test");
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Run", Exact = true }).ClickAsync();

        // While it runs (it waits for the release file), both see the checks so far and "running".
        var aliceOutput = alice.Page.GetByLabel("Command output", new() { Exact = true });
        var bobOutput = bob.Page.GetByLabel($"Output of make test by {alice.Login}", new() { Exact = true });
        var bobRun = bob.Page.Locator("article.command-watched").Filter(new() { Has = bobOutput });
        await Expect(aliceOutput).ToContainTextAsync("check 3 ok");
        await Expect(alice.Page.Locator(".command-status")).ToHaveTextAsync("make test: running");
        await Expect(bobOutput).ToContainTextAsync("running 3 checks\ncheck 1 ok\ncheck 2 ok\ncheck 3 ok");
        await Expect(bobRun.Locator("p")).ToHaveTextAsync($"{alice.Login}: make test: running");
        Assert.DoesNotContain("all checks ok", await bobOutput.InnerTextAsync(), StringComparison.Ordinal);
        await bob.ScreenshotAsync("commands-watching");

        // The tests finish: both see the last line and the result with its exit code.
        await File.WriteAllTextAsync(Path.Combine(worktree, ".release"), "");
        await Expect(aliceOutput).ToContainTextAsync("all checks ok");
        await Expect(alice.Page.Locator(".command-status")).ToContainTextAsync("make test: succeeded (exit 0)");
        await Expect(bobOutput).ToContainTextAsync("check 3 ok\nall checks ok");
        await Expect(bobRun.Locator("p")).ToHaveTextAsync($"{alice.Login}: make test: succeeded (exit 0)");
        await alice.ScreenshotAsync("commands-finished");

        // A guest cannot open a terminal: only the host does.
        await bob.Page.GetByRole(AriaRole.Tab, new() { Name = "Terminal", Exact = true }).ClickAsync();
        await bob.Page.GetByRole(AriaRole.Button, new() { Name = "Watch terminal", Exact = true }).ClickAsync();
        await Expect(bob.Page.GetByRole(AriaRole.Status).Filter(new() { HasText = "The terminal is not open" })).ToBeVisibleAsync();

        // The host opens the terminal and types; the guest's xterm shows it.
        await alice.Page.GetByRole(AriaRole.Tab, new() { Name = "Terminal", Exact = true }).ClickAsync();
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Open terminal", Exact = true }).ClickAsync();
        await Expect(alice.Page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Connected: you can type" })).ToBeVisibleAsync();
        var aliceRows = alice.Page.Locator(".terminal-view .xterm-rows");
        var bobRows = bob.Page.Locator(".terminal-view .xterm-rows");
        await TypeInTerminalAsync(alice, "echo hello-$((6*7)); id -u");
        await Expect(aliceRows).ToContainTextAsync("hello-42");
        await bob.Page.GetByRole(AriaRole.Button, new() { Name = "Watch terminal", Exact = true }).ClickAsync();
        await Expect(bob.Page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Connected: watching" })).ToBeVisibleAsync();
        await Expect(bobRows).ToContainTextAsync("hello-42"); // the scrollback a late joiner gets
        await Expect(bobRows).ToContainTextAsync("65534");
        await TypeInTerminalAsync(alice, "make test");
        await Expect(bobRows).ToContainTextAsync("all checks ok"); // live, the tests again, now in the terminal

        // The guest types, and nothing reaches the shell: the host's next line shows, the guest's never does.
        await TypeInTerminalAsync(bob, "echo typed-by-$((100+1))");
        await TypeInTerminalAsync(alice, "echo after-the-guest");
        await Expect(bobRows).ToContainTextAsync("after-the-guest");
        Assert.DoesNotContain("typed-by", await aliceRows.InnerTextAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain("typed-by", await bobRows.InnerTextAsync(), StringComparison.Ordinal);
        await bob.ScreenshotAsync("terminal-watching");

        // The host's view gets narrower: the shell's size follows, and the guest's terminal takes the same size.
        var before = await ShellSizeAsync(alice, bobRows, "before");
        await alice.Page.SetViewportSizeAsync(900, 800);
        var after = await ShellSizeAsync(alice, bobRows, "after");
        Assert.True(after.Columns < before.Columns, $"{before} → {after}");
        await Expect(bob.Page.Locator(".terminal-view .xterm-rows > div")).ToHaveCountAsync(after.Rows);

        // The host lets the guest type; the guest's line runs in the shell and the host sees it.
        // The box shows the server's answer (the writers frame), not the click: it turns checked once the grant is in.
        var mayType = alice.Page.GetByRole(AriaRole.Group, new() { Name = "Who may type" }).GetByLabel(bob.Login, new() { Exact = true });
        await Expect(mayType).Not.ToBeCheckedAsync();
        await mayType.ClickAsync();
        await Expect(mayType).ToBeCheckedAsync();
        await Expect(bob.Page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Connected: you can type" })).ToBeVisibleAsync();
        await TypeInTerminalAsync(bob, "echo granted-$((2+3)) | tee /workspace/from-bob");
        await Expect(aliceRows).ToContainTextAsync("granted-5");
        Assert.Equal("granted-5\n", await File.ReadAllTextAsync(Path.Combine(worktree, "from-bob")));

        // The shell exits: both are told.
        await TypeInTerminalAsync(alice, "exit 3");
        await Expect(alice.Page.GetByRole(AriaRole.Status).Filter(new() { HasText = "The terminal ended (exit 3)." })).ToBeVisibleAsync();
        await Expect(bob.Page.GetByRole(AriaRole.Status).Filter(new() { HasText = "The terminal ended (exit 3)." })).ToBeVisibleAsync();

        Assert.Empty(alice.ConsoleErrors);
        // Chromium logs the refused handshake of the guest's first try (the terminal was not open: a 404) as an error.
        Assert.All(bob.ConsoleErrors, error => Assert.True(error.Contains($"/api/ws/terminal/{roomId:D}/main", StringComparison.Ordinal)
            && error.Contains("404", StringComparison.Ordinal), error));
    }

    /// <summary>Focuses the page's xterm (its hidden textarea takes the keys) and types a line, then Enter.</summary>
    private static async Task TypeInTerminalAsync(BrowserUser user, string line)
    {
        await user.Page.Locator(".terminal-view .xterm").ClickAsync();
        await user.Page.Keyboard.TypeAsync(line);
        await user.Page.Keyboard.PressAsync("Enter");
    }

    /// <summary>The host asks the shell its size (<c>stty size</c>, tagged so each answer is told apart); the guest sees the answer.</summary>
    private static async Task<(int Rows, int Columns)> ShellSizeAsync(BrowserUser host, ILocator guestRows, string tag)
    {
        await TypeInTerminalAsync(host, $"echo size-{tag}: $(stty size)");
        // The rows' text runs together (one element per row): the answer is followed by the next prompt, never a digit.
        var pattern = new Regex($"size-{tag}: (\\d+) (\\d+)");
        await Expect(guestRows).ToContainTextAsync(pattern);
        var match = pattern.Match(await guestRows.TextContentAsync() ?? "");
        return (int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Commits <paramref name="path"/> onto the bare repository's main (through a throwaway clone).</summary>
    private static void AddFile(string bare, string path, string content)
    {
        var clone = bare + ".edit";
        TestGit.Run(Path.GetDirectoryName(bare)!, "clone", "--quiet", bare, clone);
        File.WriteAllText(Path.Combine(clone, path), content);
        TestGit.Run(clone, "add", path);
        TestGit.Run(clone, "commit", "--quiet", "-m", "add " + path);
        TestGit.Run(clone, "push", "--quiet", "origin", "main");
        Directory.Delete(clone, recursive: true);
    }
}
