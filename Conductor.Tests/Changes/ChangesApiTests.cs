using System.Net;
using System.Text.Json;
using Conductor.Tests.Ai;
using Conductor.Tests.Auth;
using Conductor.Tests.Workspaces;
using Conductor.Workspaces.Search;
using Npgsql;

namespace Conductor.Tests.Changes;

[Collection(ConductorApiCollection.Name)]
public sealed class ChangesApiTests(ConductorApiFixture fixture)
{
    private async Task<JsonElement> GenerateAsync(ApiClient client, Guid roomId, params string[] files) =>
        await ApiClient.ExpectAsync(await client.PostAsync("/generate-changes", new { room_id = roomId, instruction = "add logging", files }), HttpStatusCode.OK);

    private static Guid[] Ids(JsonElement set) => set.GetProperty("changes").EnumerateArray().Select(c => c.GetProperty("id").GetGuid()).ToArray();

    private static async Task<List<JsonElement>> AuditAsync(ApiClient client, Guid roomId) =>
        (await ApiClient.ExpectAsync(await client.GetAsync($"/audit?room_id={roomId}"), HttpStatusCode.OK)).GetProperty("entries").EnumerateArray().ToList();

    [Fact]
    public async Task Mock_changes_are_generated_evaluated_applied_and_audited()
    {
        var (host, user, roomId) = await fixture.HostWithRoomAsync();
        var root = fixture.WorkspacePath(roomId);
        Directory.CreateDirectory(Path.Combine(root, "src"));
        await File.WriteAllTextAsync(Path.Combine(root, "src/app.cs"), "class App {}\n");

        var set = await GenerateAsync(host, roomId, "src/app.cs", "./docs/new.md");
        Assert.Equal("mock-v1", set.GetProperty("agent").GetString());
        Assert.Equal("mock", set.GetProperty("provider").GetString());
        Assert.Equal("mock-v1", set.GetProperty("model").GetString());
        var changes = set.GetProperty("changes").EnumerateArray().ToList();
        Assert.Equal(["src/app.cs", "docs/new.md"], changes.Select(c => c.GetProperty("file_path").GetString()));
        Assert.Equal(["modify", "create"], changes.Select(c => c.GetProperty("type").GetString()));
        Assert.Equal("""
            --- a/src/app.cs
            +++ b/src/app.cs
            @@ -1 +1,2 @@
             class App {}
            +// Conductor mock agent: add logging

            """.ReplaceLineEndings("\n"), changes[0].GetProperty("diff").GetString());
        Assert.StartsWith("--- /dev/null\n+++ b/docs/new.md\n", changes[1].GetProperty("diff").GetString(), StringComparison.Ordinal);

        var setId = set.GetProperty("change_set_id").GetGuid();
        var policy = await ApiClient.ExpectAsync(await host.PostAsync("/policy/evaluate-auto-apply", new { change_set_id = setId }), HttpStatusCode.OK);
        Assert.Equal("apply_all", policy.GetProperty("decision").GetString());
        Assert.Equal(0, policy.GetProperty("risk_score").GetDouble());
        var raw = await ApiClient.ExpectAsync(await host.PostAsync("/policy/evaluate-auto-apply",
            new { changes = new[] { new { file_path = ".github/workflows/ci.yml", type = "delete" } } }), HttpStatusCode.OK);
        Assert.Equal("reject_all", raw.GetProperty("decision").GetString());
        Assert.Equal(2, raw.GetProperty("reasons").GetArrayLength());

        var applied = await ApiClient.ExpectAsync(await host.PostAsync($"/changes/{setId}/apply", new { change_ids = Ids(set) }), HttpStatusCode.OK);
        Assert.All(applied.GetProperty("results").EnumerateArray(), r => Assert.Equal("applied", r.GetProperty("outcome").GetString()));
        Assert.Equal("class App {}\n// Conductor mock agent: add logging\n", await File.ReadAllTextAsync(Path.Combine(root, "src/app.cs")));
        Assert.Equal("Created by the Conductor mock agent: add logging\n", await File.ReadAllTextAsync(Path.Combine(root, "docs/new.md")));

        // Applying again is refused per change: the change is already applied.
        var again = await ApiClient.ExpectProblemAsync(await host.PostAsync($"/changes/{setId}/apply", new { change_ids = Ids(set)[..1] }), HttpStatusCode.Conflict);
        Assert.Equal("the change was already applied", again.GetProperty("results")[0].GetProperty("detail").GetString());

        var audit = await AuditAsync(host, roomId);
        Assert.Equal(["applied", "applied", "refused"], audit.Select(e => e.GetProperty("action").GetString()));
        Assert.All(audit, e => Assert.Equal(user.UserId, e.GetProperty("user_id").GetGuid()));
        Assert.All(audit, e => Assert.Equal("server", e.GetProperty("source").GetString()));
    }

    [Fact]
    public async Task A_change_whose_file_moved_on_is_refused_with_409_and_audited_while_others_apply()
    {
        var (host, _, roomId) = await fixture.HostWithRoomAsync();
        var root = fixture.WorkspacePath(roomId);
        await File.WriteAllTextAsync(Path.Combine(root, "a.py"), "print('a')\n");
        await File.WriteAllTextAsync(Path.Combine(root, "b.py"), "print('b')\n");
        var set = await GenerateAsync(host, roomId, "a.py", "b.py");
        await File.WriteAllTextAsync(Path.Combine(root, "b.py"), "print('edited meanwhile')\n");

        var setId = set.GetProperty("change_set_id").GetGuid();
        var problem = await ApiClient.ExpectProblemAsync(await host.PostAsync($"/changes/{setId}/apply", new { change_ids = Ids(set) }),
            HttpStatusCode.Conflict, "Some changes were refused");
        var results = problem.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([200, 409], results.Select(r => r.GetProperty("status").GetInt32()));
        Assert.Equal("the file changed since the change was generated", results[1].GetProperty("detail").GetString());
        Assert.Equal("print('edited meanwhile')\n", await File.ReadAllTextAsync(Path.Combine(root, "b.py")));
        Assert.Contains("mock agent", await File.ReadAllTextAsync(Path.Combine(root, "a.py")), StringComparison.Ordinal);
        var audit = await AuditAsync(host, roomId);
        Assert.Equal([("applied", "a.py"), ("refused", "b.py")], audit.Select(e => (e.GetProperty("action").GetString(), e.GetProperty("file_path").GetString())));
    }

    [Fact]
    public async Task Changes_and_audit_belong_to_room_members_only()
    {
        var (host, _, roomId) = await fixture.HostWithRoomAsync();
        var (guest, guestUser) = await fixture.GuestAsync(host, roomId);
        var outsider = await fixture.OutsiderAsync();
        await File.WriteAllTextAsync(Path.Combine(fixture.WorkspacePath(roomId), "notes.md"), "# notes\n");
        var set = await GenerateAsync(host, roomId, "notes.md");
        var setId = set.GetProperty("change_set_id").GetGuid();
        var changeId = Ids(set)[0];

        await ApiClient.ExpectProblemAsync(await outsider.PostAsync("/generate-changes", new { room_id = roomId, instruction = "x" }), HttpStatusCode.Forbidden);
        await ApiClient.ExpectProblemAsync(await outsider.PostAsync($"/changes/{setId}/apply", new { change_ids = new[] { changeId } }), HttpStatusCode.NotFound);
        await ApiClient.ExpectProblemAsync(await outsider.GetAsync($"/changes/{setId}"), HttpStatusCode.NotFound);
        await ApiClient.ExpectProblemAsync(await outsider.PostAsync("/policy/evaluate-auto-apply", new { change_set_id = setId }), HttpStatusCode.NotFound);
        await ApiClient.ExpectProblemAsync(await outsider.PostAsync("/audit/log-apply",
            new { room_id = roomId, change_id = changeId, action = "skipped", file_path = "notes.md" }), HttpStatusCode.Forbidden);
        await ApiClient.ExpectProblemAsync(await outsider.GetAsync($"/audit?room_id={roomId}"), HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Client().PostAsync("/generate-changes", new { room_id = roomId, instruction = "x" })).StatusCode);

        // A guest's client decision is logged as the guest, whatever the body claims.
        var logged = await ApiClient.ExpectAsync(await guest.PostAsync("/audit/log-apply",
            new { room_id = roomId, change_id = changeId, action = "skipped", file_path = "notes.md", user_id = Guid.NewGuid() }), HttpStatusCode.OK);
        Assert.True(logged.GetProperty("logged").GetBoolean());
        var entry = Assert.Single(await AuditAsync(host, roomId));
        Assert.Equal((guestUser.UserId, "skipped", "client"), (entry.GetProperty("user_id").GetGuid(), entry.GetProperty("action").GetString(), entry.GetProperty("source").GetString()));

        await ApiClient.ExpectProblemAsync(await guest.PostAsync("/audit/log-apply",
            new { room_id = roomId, change_id = changeId, action = "deleted", file_path = "notes.md" }), HttpStatusCode.BadRequest, "Invalid action");
        await ApiClient.ExpectProblemAsync(await guest.PostAsync("/audit/log-apply",
            new { room_id = roomId, change_id = changeId, action = "applied", file_path = "other.md" }), HttpStatusCode.BadRequest, "file_path does not match the change");
        await ApiClient.ExpectProblemAsync(await guest.PostAsync("/audit/log-apply",
            new { room_id = roomId, change_id = Guid.NewGuid(), action = "applied", file_path = "notes.md" }), HttpStatusCode.BadRequest, "Unknown change");
        await ApiClient.ExpectProblemAsync(await guest.GetAsync($"/audit?room_id={roomId}&limit=0"), HttpStatusCode.BadRequest, "Invalid limit");
        Assert.Single(await AuditAsync(host, roomId));
        await ApiClient.ExpectProblemAsync(await host.PostAsync("/generate-changes", new { room_id = roomId, instruction = "x", files = new[] { "../etc/passwd" } }),
            HttpStatusCode.BadRequest, "Invalid file path");
        await ApiClient.ExpectProblemAsync(await host.PostAsync("/generate-changes", new { room_id = roomId, instruction = "x", files = new[] { ".git/config" } }),
            HttpStatusCode.BadRequest, "Invalid file path");
    }

    [Fact]
    public async Task A_room_s_change_sets_are_listed_newest_first_with_each_change_s_review_state_and_announced_as_room_events()
    {
        var (host, hostUser, roomId) = await fixture.HostWithRoomAsync();
        var (guest, _) = await fixture.GuestAsync(host, roomId);
        var root = fixture.WorkspacePath(roomId);
        await File.WriteAllTextAsync(Path.Combine(root, "a.py"), "print('a')\n");
        await File.WriteAllTextAsync(Path.Combine(root, "b.py"), "print('b')\n");
        await using var events = await Conductor.Tests.Conversations.SseReader.OpenAsync(fixture.Url, guest.AccessToken!, $"/rooms/{roomId}/events");
        Assert.Equal("ready", (await events.NextAsync())!.Type);

        var first = await GenerateAsync(host, roomId, "a.py", "b.py");
        var second = await GenerateAsync(host, roomId, "a.py");
        var (firstId, secondId) = (first.GetProperty("change_set_id").GetGuid(), second.GetProperty("change_set_id").GetGuid());
        Assert.Equal(("ai", hostUser.Login), (first.GetProperty("source").GetString(), first.GetProperty("created_by_login").GetString()));
        var proposed = await events.NextAsync();
        Assert.Equal("change_set_proposed", proposed!.Type);
        Assert.Equal((firstId, hostUser.UserId, "ai", 2, "apply_all"), (proposed.Data.GetProperty("change_set_id").GetGuid(),
            proposed.Data.GetProperty("user_id").GetGuid(), proposed.Data.GetProperty("source").GetString(), proposed.Data.GetProperty("changes").GetInt32(),
            proposed.Data.GetProperty("decision").GetString()));
        Assert.Equal(secondId, (await events.NextAsync())!.Data.GetProperty("change_set_id").GetGuid());

        // Newest first, paged with next_before.
        var pending = await ApiClient.ExpectAsync(await guest.GetAsync($"/rooms/{roomId}/change-sets"), HttpStatusCode.OK);
        Assert.Equal([secondId, firstId], pending.GetProperty("change_sets").EnumerateArray().Select(s => s.GetProperty("change_set_id").GetGuid()));
        var listed = pending.GetProperty("change_sets")[1];
        Assert.Equal((hostUser.Login, "ai", "mock", "add logging", "apply_all", 2, 2),
            (listed.GetProperty("created_by_login").GetString(), listed.GetProperty("source").GetString(), listed.GetProperty("provider").GetString(),
             listed.GetProperty("instruction").GetString(), listed.GetProperty("policy").GetProperty("decision").GetString(),
             listed.GetProperty("changes").GetInt32(), listed.GetProperty("pending").GetInt32()));
        Assert.False(pending.TryGetProperty("next_before", out _));
        var page = await ApiClient.ExpectAsync(await guest.GetAsync($"/rooms/{roomId}/change-sets?limit=1"), HttpStatusCode.OK);
        Assert.Equal(secondId, Assert.Single(page.GetProperty("change_sets").EnumerateArray()).GetProperty("change_set_id").GetGuid());
        Assert.Equal(secondId, page.GetProperty("next_before").GetGuid());
        var next = await ApiClient.ExpectAsync(await guest.GetAsync($"/rooms/{roomId}/change-sets?limit=1&before={secondId}"), HttpStatusCode.OK);
        Assert.Equal(firstId, Assert.Single(next.GetProperty("change_sets").EnumerateArray()).GetProperty("change_set_id").GetGuid());
        Assert.False(next.TryGetProperty("next_before", out _));

        // The host applies a.py of the first set, the guest skips b.py; the second set's a.py then finds its file moved on.
        var firstIds = Ids(first);
        await ApiClient.ExpectAsync(await host.PostAsync($"/changes/{firstId}/apply", new { change_ids = firstIds[..1] }), HttpStatusCode.OK);
        await ApiClient.ExpectAsync(await guest.PostAsync("/audit/log-apply", new { room_id = roomId, change_id = firstIds[1], action = "skipped", file_path = "b.py" }),
            HttpStatusCode.OK);
        await ApiClient.ExpectProblemAsync(await guest.PostAsync($"/changes/{secondId}/apply", new { change_ids = Ids(second) }), HttpStatusCode.Conflict);
        // (The applied write's file_changed comes too.)
        var reviewed = new List<SseEventSummary>();
        while (reviewed.Count < 3)
        {
            var e = (await events.NextAsync())!;
            if (e.Type == "change_reviewed")
            {
                reviewed.Add(new(e.Data.GetProperty("change_id").GetGuid(), e.Data.GetProperty("status").GetString()!, e.Data.GetProperty("file_path").GetString()!));
            }
        }
        Assert.Equal([new(firstIds[0], "applied", "a.py"), new(firstIds[1], "skipped", "b.py"), new(Ids(second)[0], "refused", "a.py")], reviewed);

        Assert.Empty((await ApiClient.ExpectAsync(await guest.GetAsync($"/rooms/{roomId}/change-sets?status=pending"), HttpStatusCode.OK))
            .GetProperty("change_sets").EnumerateArray());
        var all = (await ApiClient.ExpectAsync(await guest.GetAsync($"/rooms/{roomId}/change-sets?status=all"), HttpStatusCode.OK))
            .GetProperty("change_sets").EnumerateArray().ToList();
        Assert.Equal([(0, 0, 0, 1), (0, 1, 1, 0)], all.Select(s => (s.GetProperty("pending").GetInt32(), s.GetProperty("applied").GetInt32(),
            s.GetProperty("skipped").GetInt32(), s.GetProperty("refused").GetInt32())));
        var firstNow = await ApiClient.ExpectAsync(await guest.GetAsync($"/changes/{firstId}"), HttpStatusCode.OK);
        Assert.Equal(["applied", "skipped"], firstNow.GetProperty("changes").EnumerateArray().Select(c => c.GetProperty("status").GetString()));
        var refused = Assert.Single((await ApiClient.ExpectAsync(await guest.GetAsync($"/changes/{secondId}"), HttpStatusCode.OK)).GetProperty("changes").EnumerateArray());
        Assert.Equal(("refused", "the file changed since the change was generated"), (refused.GetProperty("status").GetString(), refused.GetProperty("detail").GetString()));

        // Bad queries are refused by name; a set of another room is no cursor; others' rooms are not listed.
        await ApiClient.ExpectProblemAsync(await guest.GetAsync($"/rooms/{roomId}/change-sets?status=open"), HttpStatusCode.BadRequest, "Invalid status");
        await ApiClient.ExpectProblemAsync(await guest.GetAsync($"/rooms/{roomId}/change-sets?limit=101"), HttpStatusCode.BadRequest, "Invalid limit");
        await ApiClient.ExpectProblemAsync(await guest.GetAsync($"/rooms/{roomId}/change-sets?before=nope"), HttpStatusCode.BadRequest, "Invalid before");
        var (other, _, otherRoom) = await fixture.HostWithRoomAsync();
        await File.WriteAllTextAsync(Path.Combine(fixture.WorkspacePath(otherRoom), "c.py"), "print('c')\n");
        var elsewhere = (await GenerateAsync(other, otherRoom, "c.py")).GetProperty("change_set_id").GetGuid();
        await ApiClient.ExpectProblemAsync(await guest.GetAsync($"/rooms/{roomId}/change-sets?before={elsewhere}"), HttpStatusCode.BadRequest, "Invalid before");
        await ApiClient.ExpectProblemAsync(await guest.GetAsync($"/rooms/{otherRoom}/change-sets"), HttpStatusCode.Forbidden);
    }

    private sealed record SseEventSummary(Guid ChangeId, string Status, string FilePath);

    [Fact]
    public async Task A_real_provider_is_asked_for_schema_json_retried_once_and_reported_as_502()
    {
        var (host, _, roomId) = await fixture.HostWithRoomAsync();
        await File.WriteAllTextAsync(Path.Combine(fixture.WorkspacePath(roomId), "main.go"), "package main\n");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await host.PostAsync("/ai/select", new { provider_name = "openai" })).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        var marker = Guid.NewGuid().ToString("N");
        var calls = 0;
        fixture.OpenAI.Answer = _ => Interlocked.Increment(ref calls) == 1
            ? FakeAnswer.Text("""{"changes":[{"file_path":"main.go","type":"create","content":"x","rationale":"r"}]}""") // main.go exists: invalid
            : FakeAnswer.Text("""{"changes":[{"file_path":"main.go","type":"modify","content":"package main\n\nfunc main() {}\n","rationale":"entry point"}]}""", 6);
        var set = await ApiClient.ExpectAsync(await host.PostAsync("/generate-changes",
            new { room_id = roomId, instruction = marker, files = new[] { "main.go" } }), HttpStatusCode.OK);
        Assert.Equal(("llm-v1", "openai", "fake-model"), (set.GetProperty("agent").GetString(), set.GetProperty("provider").GetString(), set.GetProperty("model").GetString()));
        var change = Assert.Single(set.GetProperty("changes").EnumerateArray());
        Assert.Equal("--- a/main.go\n+++ b/main.go\n@@ -1 +1,3 @@\n package main\n+\n+func main() {}\n", change.GetProperty("diff").GetString());
        var requests = fixture.OpenAI.ChatRequests.Where(r => r.Body.Contains(marker, StringComparison.Ordinal)).ToList();
        Assert.Equal(2, requests.Count);
        Assert.Contains("already exists", requests[1].Body, StringComparison.Ordinal);

        fixture.OpenAI.Answer = _ => FakeAnswer.Text("I cannot do that.");
        var problem = await ApiClient.ExpectProblemAsync(await host.PostAsync("/generate-changes",
            new { room_id = roomId, instruction = "again", files = new[] { "main.go" } }), HttpStatusCode.BadGateway, "The AI provider did not produce valid changes");
        Assert.Contains("not valid JSON", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        fixture.OpenAI.Answer = _ => FakeAnswer.Text("""{"changes":[]}""", 4) with { AbortAfter = 2 };
        var broken = await ApiClient.ExpectProblemAsync(await host.PostAsync("/generate-changes",
            new { room_id = roomId, instruction = "broken", files = new[] { "main.go" } }), HttpStatusCode.BadGateway);
        Assert.Equal("openai", broken.GetProperty("provider").GetString());

        await using var dataSource = NpgsqlDataSource.Create(fixture.ConnectionString);
        await using var count = dataSource.CreateCommand("SELECT count(*) FROM change_sets WHERE room_id = $1");
        count.Parameters.Add(new NpgsqlParameter { Value = roomId });
        Assert.Equal(1L, await count.ExecuteScalarAsync());
        fixture.OpenAI.Answer = _ => FakeAnswer.Text("Hello from the fake provider", 4);
    }

    [Fact]
    public async Task Applied_changes_are_found_by_the_indexed_search_at_once()
    {
        var (host, _, roomId) = await fixture.HostWithRoomAsync("indexed");
        var root = fixture.WorkspacePath(roomId);
        Directory.CreateDirectory(Path.Combine(root, "src"));
        await File.WriteAllTextAsync(Path.Combine(root, "src/app.cs"), "class App {}\n");
        TestGit.Run(root, "init", "--quiet", "--initial-branch=main");

        // The first search starts the worktree's index; its file appears beside the worktree once the index answers.
        await ApiClient.ExpectAsync(await host.GetAsync($"/workspace/{roomId}/search?q=class"), HttpStatusCode.OK);
        var indexFile = Path.Combine(SearchIndexes.IndexDirectory(root), "index.bin");
        for (var attempt = 0; attempt < 600 && !File.Exists(indexFile); attempt++)
        {
            await Task.Delay(100);
        }
        Assert.True(File.Exists(indexFile), "the search index was not built");
        // Written behind the Api's back: not in the index (so what is found below came through the index's journal).
        await File.WriteAllTextAsync(Path.Combine(root, "src/bypass.cs"), "// Conductor mock agent, but not applied\n");

        var set = await GenerateAsync(host, roomId, "src/app.cs", "docs/new.md");
        await ApiClient.ExpectAsync(await host.PostAsync($"/changes/{set.GetProperty("change_set_id").GetGuid()}/apply", new { change_ids = Ids(set) }), HttpStatusCode.OK);
        var hits = await ApiClient.ExpectAsync(await host.GetAsync($"/workspace/{roomId}/search?q=conductor%20mock%20agent"), HttpStatusCode.OK);
        Assert.Equal(["docs/new.md", "src/app.cs"], hits.EnumerateArray().Select(h => h.GetProperty("file_path").GetString()));
    }
}
