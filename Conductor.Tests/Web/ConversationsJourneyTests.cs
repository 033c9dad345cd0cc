using System.Text.Json;
using Conductor.Tests.Ai;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Conductor.Tests.Web;

/// <summary>The web app's Conversations tab: start a two-bot conversation on the fake provider, watch it stream, stop it, export it.</summary>
[Collection(WebAppCollection.Name)]
public sealed class ConversationsJourneyTests(WebAppFixture app)
{
    [Fact]
    public async Task A_member_starts_a_conversation_watches_its_tokens_arrive_stops_it_mid_turn_and_exports_it()
    {
        await using var alice = await app.NewUserAsync("parley");
        await alice.SignInAsync();
        await RoomJourney.CreateRoomAsync(alice, "Parley");
        // Both bots talk to the fake OpenAI provider: the first turn is held after its first token until the test lets
        // it go; the second never ends, so the stop lands mid-turn.
        var marker = Guid.NewGuid().ToString("N");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var turns = 0;
        app.SlowAi.AnswerRequest = request => !request.Body.Contains(marker, StringComparison.Ordinal) ? null
            : Interlocked.Increment(ref turns) == 1
                ? new FakeAnswer(["Tokens ", "arrive ", "one ", "by ", "one."]) { HoldAfterFirstToken = release.Task, TokenDelay = TimeSpan.FromMilliseconds(50) }
                : new FakeAnswer(["Second ", "turn ", "hangs"]) { HangAtEnd = true };

        var page = alice.Page;
        await page.GetByRole(AriaRole.Tab, new() { Name = "Conversations", Exact = true }).ClickAsync();
        await page.GetByLabel("Topic", new() { Exact = true }).FillAsync($"Tabs or spaces? {marker}");
        foreach (var bot in new[] { "Bot 1", "Bot 2" })
        {
            var fieldset = page.Locator("fieldset").Filter(new() { Has = page.GetByText(bot, new() { Exact = true }) });
            await Expect(fieldset.Locator("select option[value='slow']")).ToHaveCountAsync(1);
            await fieldset.GetByLabel("Provider").SelectOptionAsync("slow");
        }
        await page.GetByLabel("Max turns").FillAsync("4");
        await page.GetByRole(AriaRole.Button, new() { Name = "Start conversation", Exact = true }).ClickAsync();

        // The first token shows while the rest is held; then the turn completes and the second bot starts.
        var first = page.Locator(".conversation-turns li").Nth(0);
        await Expect(first).ToContainTextAsync("Tokens", new() { Timeout = 20_000 });
        await Expect(first).Not.ToContainTextAsync("one.");
        await Expect(first).ToHaveAttributeAsync("data-complete", "false");
        release.SetResult();
        await Expect(first).ToContainTextAsync("Tokens arrive one by one.");
        await Expect(first).ToHaveAttributeAsync("data-complete", "true");
        var second = page.Locator(".conversation-turns li").Nth(1);
        await Expect(second).ToContainTextAsync("Second turn hangs");
        await alice.ScreenshotAsync("conversation-streaming");

        // Stop: the provider request is aborted and the view says so.
        await page.GetByRole(AriaRole.Button, new() { Name = "Stop", Exact = true }).ClickAsync();
        await Expect(page.Locator(".conversation-done")).ToHaveTextAsync("Conversation stopped.");
        await app.SlowAi.ChatRequests.Where(r => r.Body.Contains(marker, StringComparison.Ordinal)).ElementAt(1).ClientAborted.Task
            .WaitAsync(TimeSpan.FromSeconds(10));
        await Expect(page.Locator(".conversation-list li").Filter(new() { HasText = marker })).ToContainTextAsync("stopped");

        // The exports download the stored transcript: the completed turn, not the cut-off one.
        var markdown = await page.RunAndWaitForDownloadAsync(() =>
            page.GetByRole(AriaRole.Button, new() { Name = "Export Markdown", Exact = true }).ClickAsync());
        Assert.EndsWith(".md", markdown.SuggestedFilename, StringComparison.Ordinal);
        var text = await File.ReadAllTextAsync(await markdown.PathAsync());
        Assert.Contains(marker, text, StringComparison.Ordinal);
        Assert.Contains("Tokens arrive one by one.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Second turn", text, StringComparison.Ordinal);
        var json = await page.RunAndWaitForDownloadAsync(() =>
            page.GetByRole(AriaRole.Button, new() { Name = "Export JSON", Exact = true }).ClickAsync());
        using var export = JsonDocument.Parse(await File.ReadAllTextAsync(await json.PathAsync()));
        Assert.Equal("stopped", export.RootElement.GetProperty("conversation").GetProperty("status").GetString());
        Assert.Equal("Tokens arrive one by one.", Assert.Single(export.RootElement.GetProperty("turns").EnumerateArray()).GetProperty("content").GetString());
        await alice.ScreenshotAsync("conversation-stopped");
        Assert.Empty(alice.ConsoleErrors);
    }
}
