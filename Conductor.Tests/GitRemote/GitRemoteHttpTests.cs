using System.Net;
using System.Net.Http.Json;
using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;
using Conductor.Tests.Workspaces;

namespace Conductor.Tests.GitRemote;

/// <summary>
/// The rooms' git remote (<c>/git/{room_id}.git</c>) with real git 2.39 clients against a real Api and GitWorker:
/// clone, fetch, shallow fetch over protocol v2, pushes by the host and refusals for guests, foreign refs, wrong
/// tokens and non-members, and a room created from a push with no git host credential on the server.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class GitRemoteHttpTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    [Fact]
    public async Task Members_clone_and_fetch_shallow_over_protocol_v2_the_host_pushes_session_branches_and_everyone_else_is_refused()
    {
        await using var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, "remote.git", "git remote");
        var (env, alice, bob, roomId) = (room.Env, room.Alice, room.Bob, room.RoomId);
        await ApiClient.ExpectAsync(await alice.PostAsync("/workspace/create?wait=60",
            new { room_id = roomId, repo_url = env.Server.UrlOf("remote.git"), token = env.Token }), HttpStatusCode.Created);
        var url = new Uri(room.Alice.BaseAddress, $"git/{roomId}.git").ToString();
        var branch = $"session/{roomId}";

        using var aliceGit = new GitClient("alice");
        aliceGit.Token = room.AliceToken;
        aliceGit.Ok(aliceGit.Home, "clone", "--quiet", "-b", branch, url, "work");
        var work = aliceGit.Folder("work");
        Assert.Equal("Hello Conductor", File.ReadAllLines(Path.Combine(work, "README.md"))[1]);
        // Only the room's refs are shown: the store's remote-tracking refs and HEAD stay hidden.
        var refs = aliceGit.Ok(work, "ls-remote", "origin").Trim().Split('\n');
        Assert.Equal([$"refs/heads/{branch}"], refs.Select(r => r.Split('\t')[1]));

        // A shallow clone over protocol v2.
        var shallow = aliceGit.Run(aliceGit.Home, "-c", "protocol.version=2", "clone", "--quiet", "--depth", "1", "-b", branch, url, "shallow");
        Assert.True(shallow.ExitCode == 0, shallow.Error);
        Assert.Equal("true", aliceGit.Ok(aliceGit.Folder("shallow"), "rev-parse", "--is-shallow-repository").Trim());
        var traced = aliceGit.RunWith(new Dictionary<string, string> { ["GIT_TRACE_PACKET"] = Path.Combine(aliceGit.Home, "trace.txt") },
            aliceGit.Folder("shallow"), "-c", "protocol.version=2", "fetch", "--quiet", "--depth", "1", "origin");
        Assert.True(traced.ExitCode == 0, traced.Error);
        // The server's first packet in protocol v2 is "version 2" (git's packet trace shows what it received).
        Assert.Contains("< version 2", File.ReadAllText(Path.Combine(aliceGit.Home, "trace.txt")), StringComparison.Ordinal);

        // The host pushes to the room's branch: the room's (clean) worktree follows it.
        File.WriteAllText(Path.Combine(work, "pushed.txt"), "from alice's clone\n");
        aliceGit.Ok(work, "add", "pushed.txt");
        aliceGit.Ok(work, "commit", "--quiet", "-m", "Add pushed.txt");
        aliceGit.Ok(work, "push", "--quiet", "origin", branch);
        var pushed = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/file?path=pushed.txt"), HttpStatusCode.OK);
        Assert.Equal("from alice's clone\n", pushed.GetProperty("content").GetString());
        Assert.Equal(aliceGit.Ok(work, "rev-parse", "HEAD").Trim(),
            (await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}"), HttpStatusCode.OK)).GetProperty("head_commit").GetString());
        // A topic branch beside it is a session branch too.
        aliceGit.Ok(work, "push", "--quiet", "origin", $"HEAD:refs/heads/{branch}-topic");

        // Any other ref is refused, in git's own words, and nothing moves.
        var foreign = aliceGit.Run(work, "push", "origin", "HEAD:refs/heads/main");
        Assert.NotEqual(0, foreign.ExitCode);
        Assert.Contains("[remote rejected] HEAD -> main (refused by Conductor", foreign.Error, StringComparison.Ordinal);
        var otherRoom = aliceGit.Run(work, "push", "origin", $"HEAD:refs/heads/session/{Guid.NewGuid()}");
        Assert.Contains("[remote rejected]", otherRoom.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("refs/heads/main", aliceGit.Ok(work, "ls-remote", "origin"), StringComparison.Ordinal);

        // A wrong token: git's authentication failure. A signed-in non-member: refused.
        using var stranger = new GitClient("stranger");
        stranger.Token = "not-a-token";
        var wrong = stranger.Run(stranger.Home, "clone", "--quiet", url, "nope");
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("Authentication failed", wrong.Error, StringComparison.Ordinal);
        stranger.Token = room.BobToken;
        var outsider = stranger.Run(stranger.Home, "clone", "--quiet", url, "nope2");
        Assert.NotEqual(0, outsider.ExitCode);
        Assert.Contains("403", outsider.Error, StringComparison.Ordinal);

        // Bob joins as a guest: he fetches, but may not push until the host allows it.
        var invite = await ApiClient.ExpectAsync(await alice.PostAsync($"/rooms/{roomId}/invites", new { }), HttpStatusCode.Created);
        await ApiClient.ExpectAsync(await bob.PostAsync("/rooms/join", new { token = invite.GetProperty("token").GetString() }), HttpStatusCode.OK);
        using var bobGit = new GitClient("bob");
        bobGit.Token = room.BobToken;
        bobGit.Ok(bobGit.Home, "clone", "--quiet", "-b", branch, url, "work");
        var bobWork = bobGit.Folder("work");
        Assert.True(File.Exists(Path.Combine(bobWork, "pushed.txt")));
        File.WriteAllText(Path.Combine(bobWork, "bob.txt"), "bob\n");
        bobGit.Ok(bobWork, "add", "bob.txt");
        bobGit.Ok(bobWork, "commit", "--quiet", "-m", "Bob's file");
        var guestPush = bobGit.Run(bobWork, "push", "origin", branch);
        Assert.NotEqual(0, guestPush.ExitCode);
        Assert.Contains("403", guestPush.Error, StringComparison.Ordinal);
        var bobId = (await ApiClient.ExpectAsync(await bob.GetAsync("/auth/me"), HttpStatusCode.OK)).GetProperty("id").GetGuid();
        await ApiClient.ExpectProblemAsync(await bob.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/pushers/{bobId}")), HttpStatusCode.Forbidden);
        await ApiClient.ExpectAsync(await alice.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/pushers/{bobId}")), HttpStatusCode.OK);
        bobGit.Ok(bobWork, "push", "--quiet", "origin", branch);
        aliceGit.Ok(work, "pull", "--quiet", "--ff-only", "origin", branch);
        Assert.True(File.Exists(Path.Combine(work, "bob.txt")));

        // Pushes are audited and the server never saw a git host credential in a child's argv or environment.
        var audit = await ApiClient.ExpectAsync(await alice.GetAsync($"/audit?room_id={roomId}"), HttpStatusCode.OK);
        var actions = audit.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Contains("pushed", actions);
        Assert.Contains("push_refused", actions);
    }

    [Fact]
    public async Task A_room_is_created_from_a_push_and_the_server_holds_no_git_host_credential()
    {
        await using var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, "unused.git", "from a push");
        var (env, alice, roomId) = (room.Env, room.Alice, room.RoomId);
        var url = new Uri(alice.BaseAddress, $"git/{roomId}.git").ToString();
        var branch = $"session/{roomId}";

        using var aliceGit = new GitClient("alice");
        aliceGit.Token = room.AliceToken;
        // Before any push the room has no repository to fetch.
        Assert.NotEqual(0, aliceGit.Run(aliceGit.Home, "clone", "--quiet", url, "early").ExitCode);

        var local = aliceGit.Folder("project");
        Directory.CreateDirectory(local);
        aliceGit.Ok(local, "init", "--quiet");
        File.WriteAllText(Path.Combine(local, "main.py"), "print('hello')\n");
        aliceGit.Ok(local, "add", "main.py");
        aliceGit.Ok(local, "commit", "--quiet", "-m", "First");
        await using (var watcher = new ProcessListingWatcher(room.AliceToken))
        {
            aliceGit.Ok(local, "push", "--quiet", url, $"HEAD:refs/heads/{branch}");
            await Task.Delay(100);
            await watcher.DisposeAsync();
            Assert.DoesNotContain(watcher.Leaks, l => !l.Contains("credential-helper", StringComparison.Ordinal));
        }

        var workspace = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}"), HttpStatusCode.OK);
        Assert.Equal("ready", workspace.GetProperty("status").GetString());
        Assert.Equal("conductor:push", workspace.GetProperty("repo_url").GetString());
        Assert.Equal(aliceGit.Ok(local, "rev-parse", "HEAD").Trim(), workspace.GetProperty("head_commit").GetString());
        var file = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/file?path=main.py"), HttpStatusCode.OK);
        Assert.Equal("print('hello')\n", file.GetProperty("content").GetString());

        // A teammate's edit in the room comes back with a fetch; the user pushes to their own remote themselves.
        await ApiClient.ExpectAsync(await alice.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/file?path=main.py")
        { Content = JsonContent.Create(new { content = "print('hello, team')\n" }) }), HttpStatusCode.OK);
        await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomId}/commit?wait=60", new { message = "Team edit", push = false }), HttpStatusCode.OK);
        aliceGit.Ok(local, "fetch", "--quiet", url, branch);
        aliceGit.Ok(local, "merge", "--quiet", "--ff-only", "FETCH_HEAD");
        Assert.Equal("print('hello, team')\n", File.ReadAllText(Path.Combine(local, "main.py")));

        // Publishing from the server has nothing to push to: the user's remote is theirs alone.
        var publish = await ApiClient.ExpectProblemAsync(await alice.PostAsync($"/workspace/{roomId}/publish", new { }), HttpStatusCode.Conflict);
        Assert.Equal("No origin to publish to", publish.GetProperty("title").GetString());
        var tables = await env.DumpTablesAsync("workspaces", "workspace_credentials", "audit_log");
        Assert.DoesNotContain(room.AliceToken, tables, StringComparison.Ordinal);
        Assert.Equal("", (await env.DumpTablesAsync("workspace_credentials")).Trim());
    }
}
