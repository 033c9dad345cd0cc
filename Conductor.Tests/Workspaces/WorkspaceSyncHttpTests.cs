using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Conductor.Tests.Workspaces;

/// <summary>
/// Members' own worktrees and sync/publish over HTTP with a real Api, GitWorker and remote: a clean three-way merge,
/// a conflicting one reported per file with base/ours/theirs and nothing applied, two members' concurrent syncs both
/// landing, and publish pushing the room's branch to origin; every sync is a room event and an audit entry.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class WorkspaceSyncHttpTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    [Fact]
    public async Task Syncs_merge_members_work_three_way_report_conflicts_without_applying_anything_and_serialise_concurrent_members()
    {
        await using var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, "sync.git", "sync");
        var (env, alice, bob, roomId, bare) = (room.Env, room.Alice, room.Bob, room.RoomId, room.Remote);
        await ApiClient.ExpectAsync(await alice.PostAsync("/workspace/create?wait=60",
            new { room_id = roomId, repo_url = env.Server.UrlOf("sync.git"), token = env.Token }), HttpStatusCode.Created);
        var invite = await ApiClient.ExpectAsync(await alice.PostAsync($"/rooms/{roomId}/invites", new { }), HttpStatusCode.Created);
        await ApiClient.ExpectAsync(await bob.PostAsync("/rooms/join", new { token = invite.GetProperty("token").GetString() }), HttpStatusCode.OK);
        var events = new ConcurrentQueue<JsonElement>();
        var subscriber = env.Services.GetRequiredService<IConnectionMultiplexer>().GetSubscriber();
        await subscriber.SubscribeAsync(RedisChannel.Literal($"room:{roomId}:events"), (_, message) => events.Enqueue(JsonDocument.Parse((string)message!).RootElement.Clone()));
        var shared = Path.Combine(env.Root, "worktrees", roomId.ToString("D"));
        string RoomHead() => TestGit.Run(shared, "rev-parse", "HEAD").Trim();
        var start = RoomHead();

        // Alice's own worktree starts at the room's branch; her edit stays out of the room's worktree until she syncs.
        var mine = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/worktrees/me"), HttpStatusCode.OK);
        Assert.Equal($"session/{roomId}-{room.AliceLogin}", mine.GetProperty("branch").GetString());
        Assert.Equal(start, mine.GetProperty("head_commit").GetString());
        await PutAsync(alice, roomId, "src/app.cs", "class App\n{\n    static void Main() => System.Console.WriteLine(\"hello, alice\");\n}\n", me: true);
        var myStatus = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/status?worktree=me"), HttpStatusCode.OK);
        Assert.Equal(["src/app.cs=modified"], myStatus.GetProperty("files").EnumerateArray().Select(f => $"{f.GetProperty("path").GetString()}={f.GetProperty("state").GetString()}"));
        Assert.Contains("hello, alice", (await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/diff?path=src/app.cs&worktree=me"), HttpStatusCode.OK))
            .GetProperty("patch").GetString(), StringComparison.Ordinal);
        Assert.Single((await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/search?q=hello,%20alice&worktree=me"), HttpStatusCode.OK)).EnumerateArray());
        Assert.Empty((await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/status"), HttpStatusCode.OK)).GetProperty("files").EnumerateArray());
        await ApiClient.ExpectProblemAsync(await alice.GetAsync($"/workspace/{roomId}/status?worktree=yours"), HttpStatusCode.BadRequest);

        // The room's worktree gets its search index (built in the background on a first query) before the sync.
        Assert.Empty((await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/search?q=hello,%20alice"), HttpStatusCode.OK)).EnumerateArray());
        var indexFile = Path.Combine(SearchIndexes.IndexDirectory(shared), "index.bin");
        for (var attempt = 0; attempt < 600 && !File.Exists(indexFile); attempt++)
        {
            await Task.Delay(100);
        }
        Assert.True(File.Exists(indexFile), "the search index was not built");

        // Meanwhile the room's branch moves on (a shared-worktree commit): alice's sync is a real three-way merge.
        await PutAsync(alice, roomId, "README.md", "# Team repository\nHello Conductor\nShared line\n", me: false);
        await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomId}/commit?wait=60", new { message = "Shared edit", push = false }), HttpStatusCode.OK);
        var moved = RoomHead();
        var merged = await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomId}/sync", new { message = "Alice's greeting" }), HttpStatusCode.OK);
        Assert.Equal("merged", merged.GetProperty("status").GetString());
        Assert.Equal(moved, merged.GetProperty("base_commit").GetString());
        var head = merged.GetProperty("head_commit").GetString()!;
        Assert.Equal(head, RoomHead());
        Assert.Equal(2, TestGit.Run(shared, "rev-list", "--parents", "-n", "1", head).Trim().Split(' ').Length - 1);
        Assert.Contains("hello, alice", File.ReadAllText(Path.Combine(shared, "src", "app.cs")), StringComparison.Ordinal);
        Assert.Contains("Shared line", File.ReadAllText(Path.Combine(shared, "README.md")), StringComparison.Ordinal);
        Assert.Equal("", TestGit.Run(shared, "status", "--porcelain"));
        // The merge reached the room's worktree through git alone: its search index caught up.
        var synced = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/search?q=hello,%20alice"), HttpStatusCode.OK);
        Assert.Equal("src/app.cs", Assert.Single(synced.EnumerateArray()).GetProperty("file_path").GetString());
        var after = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/worktrees/me"), HttpStatusCode.OK);
        Assert.Equal((head, 0, 0, 0), (after.GetProperty("head_commit").GetString(), after.GetProperty("ahead").GetInt32(), after.GetProperty("behind").GetInt32(),
            after.GetProperty("changed_files").GetInt32()));

        // Bob and alice change the same line: bob's sync reports the file with base, ours and theirs and applies nothing.
        await PutAsync(bob, roomId, "README.md", "# Team repository\nHello Bob\n", me: true);
        await PutAsync(alice, roomId, "README.md", "# Team repository\nHello Alice\nShared line\n", me: true);
        Assert.Equal("fast_forward", (await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomId}/sync", new { }), HttpStatusCode.OK)).GetProperty("status").GetString());
        var beforeConflict = RoomHead();
        var conflict = await ApiClient.ExpectProblemAsync(await bob.PostAsync($"/workspace/{roomId}/sync", new { }), HttpStatusCode.Conflict, "Sync conflicts");
        Assert.Equal("sync_conflicts", conflict.GetProperty("code").GetString());
        var file = Assert.Single(conflict.GetProperty("conflicts").EnumerateArray());
        Assert.Equal("README.md", file.GetProperty("path").GetString());
        Assert.Equal("content", file.GetProperty("kind").GetString());
        Assert.Contains("Shared line", file.GetProperty("base").GetString(), StringComparison.Ordinal);
        Assert.Contains("Hello Alice", file.GetProperty("ours").GetString(), StringComparison.Ordinal);
        Assert.Contains("Hello Bob", file.GetProperty("theirs").GetString(), StringComparison.Ordinal);
        Assert.Equal(beforeConflict, RoomHead());
        Assert.Equal("", TestGit.Run(shared, "status", "--porcelain"));
        Assert.Contains("Hello Alice", File.ReadAllText(Path.Combine(shared, "README.md")), StringComparison.Ordinal);

        // Bob resolves in his worktree (takes alice's version plus his line elsewhere) and syncs cleanly.
        var resolvedBase = (await ApiClient.ExpectAsync(await bob.GetAsync($"/workspace/{roomId}/file?path=README.md&worktree=me"), HttpStatusCode.OK)).GetProperty("content").GetString();
        Assert.Contains("Hello Bob", resolvedBase, StringComparison.Ordinal);

        // Two members sync at once, each with a new file: the syncs run one after the other and both land.
        await PutAsync(alice, roomId, "alice.txt", "alice\n", me: true);
        var bobFresh = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/worktrees/me"), HttpStatusCode.OK);
        Assert.Equal(1, bobFresh.GetProperty("changed_files").GetInt32());
        using var carol = new ApiClient(alice.BaseAddress);
        var carolLogin = ApiCluster.UniqueLogin("carol");
        carol.Authorize((await carol.DevLoginAsync(carolLogin)).AccessToken);
        await ApiClient.ExpectAsync(await carol.PostAsync("/rooms/join", new { token = invite.GetProperty("token").GetString() }), HttpStatusCode.OK);
        await PutAsync(carol, roomId, "carol.txt", "carol\n", me: true);
        var both = await Task.WhenAll(alice.PostAsync($"/workspace/{roomId}/sync", new { }), carol.PostAsync($"/workspace/{roomId}/sync", new { }));
        foreach (var response in both)
        {
            await ApiClient.ExpectAsync(response, HttpStatusCode.OK);
        }
        Assert.True(File.Exists(Path.Combine(shared, "alice.txt")));
        Assert.True(File.Exists(Path.Combine(shared, "carol.txt")));
        var tree = TestGit.Run(shared, "ls-tree", "--name-only", "HEAD");
        Assert.Contains("alice.txt", tree, StringComparison.Ordinal);
        Assert.Contains("carol.txt", tree, StringComparison.Ordinal);

        // Publish pushes the room's branch to origin with the stored credential.
        var published = await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomId}/publish", new { }), HttpStatusCode.OK);
        Assert.True(published.GetProperty("pushed").GetBoolean(), published.GetRawText());
        Assert.Equal(RoomHead(), TestGit.Run(bare, "rev-parse", $"session/{roomId}").Trim());

        // Every sync and publish is in the audit trail and was a room event.
        var audit = await ApiClient.ExpectAsync(await alice.GetAsync($"/audit?room_id={roomId}"), HttpStatusCode.OK);
        var actions = audit.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Equal(4, actions.Count(a => a == "synced"));
        Assert.Equal(1, actions.Count(a => a == "sync_conflicts"));
        Assert.Equal(1, actions.Count(a => a == "published"));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (events.Count(e => e.GetProperty("type").GetString() == "workspace_sync") < 6 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.Equal(6, events.Count(e => e.GetProperty("type").GetString() == "workspace_sync"));
    }

    private static async Task PutAsync(ApiClient client, Guid roomId, string path, string content, bool me) =>
        await ApiClient.ExpectAsync(await client.SendAsync(new HttpRequestMessage(HttpMethod.Put,
            $"/workspace/{roomId}/file?path={Uri.EscapeDataString(path)}{(me ? "&worktree=me" : "")}")
        { Content = JsonContent.Create(new { content }) }), HttpStatusCode.OK);
}
