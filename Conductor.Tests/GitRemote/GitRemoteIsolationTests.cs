using System.Net;
using System.Net.Http.Json;
using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;
using Conductor.Tests.Workspaces;

namespace Conductor.Tests.GitRemote;

/// <summary>
/// What one room's git remote must not give away or let be written, with real git 2.39 clients: rooms on one remote
/// share a store (one object database), so another room's session commits are there to be named by id; and a push
/// may write only the room's branches, never another member's own branch.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class GitRemoteIsolationTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    [Fact]
    public async Task A_member_of_one_room_cannot_fetch_another_rooms_commit_or_blob_by_id_over_protocol_v2_v0_or_shallow_nor_push_a_commit_on_top_of_it()
    {
        await using var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, "shared.git", "room a");
        var (env, alice, bob, roomA) = (room.Env, room.Alice, room.Bob, room.RoomId);
        var remote = env.Server.UrlOf("shared.git");
        await ApiClient.ExpectAsync(await alice.PostAsync("/workspace/create?wait=60", new { room_id = roomA, repo_url = remote, token = env.Token }), HttpStatusCode.Created);
        // Room B on the same remote: the same store. Its host commits a secret there.
        var roomB = (await ApiClient.ExpectAsync(await alice.PostAsync("/rooms", new { name = "room b" }), HttpStatusCode.Created)).GetProperty("room_id").GetGuid();
        await ApiClient.ExpectAsync(await alice.PostAsync("/workspace/create?wait=60", new { room_id = roomB, repo_url = remote, token = env.Token }), HttpStatusCode.Created);
        const string Secret = "room b's secret, not for room a\n";
        await ApiClient.ExpectAsync(await alice.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomB}/file?path=secret.txt")
        { Content = JsonContent.Create(new { content = Secret }) }), HttpStatusCode.OK);
        await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomB}/commit?wait=60", new { message = "Secret", push = false }), HttpStatusCode.OK);
        var secretCommit = (await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomB}"), HttpStatusCode.OK)).GetProperty("head_commit").GetString()!;
        // Room A moves on too, so that it has a commit that is not its tip.
        await ApiClient.ExpectAsync(await alice.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomA}/file?path=a.txt")
        { Content = JsonContent.Create(new { content = "room a\n" }) }), HttpStatusCode.OK);
        await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomA}/commit?wait=60", new { message = "A's file", push = false }), HttpStatusCode.OK);

        // Bob is a member of room A only.
        var invite = await ApiClient.ExpectAsync(await alice.PostAsync($"/rooms/{roomA}/invites", new { }), HttpStatusCode.Created);
        await ApiClient.ExpectAsync(await bob.PostAsync("/rooms/join", new { token = invite.GetProperty("token").GetString() }), HttpStatusCode.OK);
        var url = new Uri(alice.BaseAddress, $"git/{roomA}.git").ToString();
        using var bobGit = new GitClient("bob");
        bobGit.Token = room.BobToken;
        bobGit.Ok(bobGit.Home, "clone", "--quiet", "-b", $"session/{roomA}", url, "work");
        var work = bobGit.Folder("work");
        var secretBlob = HashOf(bobGit, work, Secret);

        // The advertisement, in either protocol, names room A's branch and nothing of room B's.
        foreach (var version in new[] { "0", "2" })
        {
            var listed = bobGit.Ok(work, "-c", $"protocol.version={version}", "ls-remote", "origin");
            Assert.Equal([$"refs/heads/session/{roomA}"], listed.Trim().Split('\n').Select(l => l.Split('\t')[1]));
            Assert.DoesNotContain(roomB.ToString(), listed, StringComparison.Ordinal);
            Assert.DoesNotContain(secretCommit, listed, StringComparison.Ordinal);
        }

        // Naming room B's commit (or its blob) by id is refused in every protocol, shallow or not, and nothing arrives.
        string[][] attacks =
        [
            ["-c", "protocol.version=2", "fetch", "origin", secretCommit],
            ["-c", "protocol.version=2", "fetch", "--depth", "1", "origin", secretCommit],
            ["-c", "protocol.version=2", "fetch", "origin", secretBlob],
            ["-c", "protocol.version=0", "fetch", "origin", secretCommit],
            ["-c", "protocol.version=0", "fetch", "--depth", "1", "origin", secretCommit],
        ];
        foreach (var attack in attacks)
        {
            var result = bobGit.Run(work, attack);
            Assert.True(result.ExitCode != 0, $"git {string.Join(' ', attack)} fetched room B's object: {result.Error}");
            Assert.Matches("not our ref|unadvertised object", result.Error);
        }
        Assert.NotEqual(0, bobGit.Run(work, "cat-file", "-e", secretCommit).ExitCode);
        Assert.NotEqual(0, bobGit.Run(work, "cat-file", "-e", secretBlob).ExitCode);
        Assert.DoesNotContain(Secret.Trim(), bobGit.Ok(work, "log", "--all", "-p"), StringComparison.Ordinal);

        // The check takes nothing from room A's own members: a commit of room A that is not its tip, by id, over v2,
        // shallow, into an empty repository; and a blob of room A by id.
        var parent = bobGit.Ok(work, "rev-parse", "HEAD~1").Trim();
        var fresh = bobGit.Folder("fresh");
        bobGit.Ok(bobGit.Home, "init", "--quiet", "fresh");
        bobGit.Ok(fresh, "-c", "protocol.version=2", "fetch", "--quiet", "--depth", "1", url, parent);
        Assert.Equal("commit", bobGit.Ok(fresh, "cat-file", "-t", parent).Trim());
        var readmeBlob = bobGit.Ok(work, "rev-parse", "HEAD:README.md").Trim();
        bobGit.Ok(fresh, "-c", "protocol.version=2", "fetch", "--quiet", url, readmeBlob);
        Assert.Equal("blob", bobGit.Ok(fresh, "cat-file", "-t", readmeBlob).Trim());
        // A partial clone: its checkout fetches the blobs it left out, by id, in one v2 request.
        bobGit.Ok(bobGit.Home, "-c", "protocol.version=2", "clone", "--quiet", "--filter=blob:none", "-b", $"session/{roomA}", url, "partial");
        Assert.Equal("room a\n", File.ReadAllText(Path.Combine(bobGit.Folder("partial"), "a.txt")));

        // The push side: Bob, allowed to push in room A, pushes a commit whose parent is room B's commit (which he
        // has only the id of: a graft in his clone says his commit has no parent, so git sends it alone). The store
        // has that parent, so git's connectivity check alone would take it, and Bob would then fetch room B's work
        // through his own branch.
        var bobId = (await ApiClient.ExpectAsync(await bob.GetAsync("/auth/me"), HttpStatusCode.OK)).GetProperty("id").GetGuid();
        await ApiClient.ExpectAsync(await alice.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomA}/pushers/{bobId}")), HttpStatusCode.OK);
        var tree = bobGit.Ok(work, "rev-parse", "HEAD^{tree}").Trim();
        var forgedText = Path.Combine(bobGit.Home, "forged.txt");
        File.WriteAllText(forgedText, $"tree {tree}\nparent {secretCommit}\nauthor bob <bob@example.invalid> 1700000000 +0000\n"
            + "committer bob <bob@example.invalid> 1700000000 +0000\n\nOn top of room B\n");
        var forged = bobGit.Ok(work, "hash-object", "-t", "commit", "-w", forgedText).Trim();
        Directory.CreateDirectory(Path.Combine(work, ".git", "info"));
        File.WriteAllText(Path.Combine(work, ".git", "info", "grafts"), forged + "\n");
        var stolen = $"refs/heads/session/{roomA}-stolen";
        var smuggle = bobGit.Run(work, "push", "origin", $"{forged}:{stolen}");
        Assert.True(smuggle.ExitCode != 0, $"the push naming room B's commit was accepted: {smuggle.Error}");
        Assert.Contains("remote: Conductor: " + stolen + " names objects this push did not send", smuggle.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(stolen, bobGit.Ok(work, "ls-remote", "origin"), StringComparison.Ordinal);
        Assert.Contains("(pre-receive hook declined)", smuggle.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(secretCommit, smuggle.Error, StringComparison.Ordinal);
        File.Delete(Path.Combine(work, ".git", "info", "grafts"));
        // Bob's own honest work on room A's branch still goes through the same check.
        File.WriteAllText(Path.Combine(work, "bob.txt"), "bob\n");
        bobGit.Ok(work, "add", "bob.txt");
        bobGit.Ok(work, "commit", "--quiet", "-m", "Bob's file");
        bobGit.Ok(work, "push", "--quiet", "origin", $"HEAD:refs/heads/session/{roomA}-bobs-topic");
    }

    [Fact]
    public async Task A_push_touching_a_tag_main_or_another_members_own_branch_is_refused_as_a_whole_with_a_remote_message()
    {
        await using var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, "pushes.git", "pushes");
        var (env, alice, bob, roomId) = (room.Env, room.Alice, room.Bob, room.RoomId);
        await ApiClient.ExpectAsync(await alice.PostAsync("/workspace/create?wait=60",
            new { room_id = roomId, repo_url = env.Server.UrlOf("pushes.git"), token = env.Token }), HttpStatusCode.Created);
        var invite = await ApiClient.ExpectAsync(await alice.PostAsync($"/rooms/{roomId}/invites", new { }), HttpStatusCode.Created);
        await ApiClient.ExpectAsync(await bob.PostAsync("/rooms/join", new { token = invite.GetProperty("token").GetString() }), HttpStatusCode.OK);
        var bobId = (await ApiClient.ExpectAsync(await bob.GetAsync("/auth/me"), HttpStatusCode.OK)).GetProperty("id").GetGuid();
        await ApiClient.ExpectAsync(await alice.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/pushers/{bobId}")), HttpStatusCode.OK);
        // Alice's own worktree exists (her branch session/{room}-{alice}); Bob's branch is made by his first push.
        await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/worktrees/me"), HttpStatusCode.OK);

        var url = new Uri(alice.BaseAddress, $"git/{roomId}.git").ToString();
        var branch = $"session/{roomId}";
        using var aliceGit = new GitClient("alice");
        aliceGit.Token = room.AliceToken;
        aliceGit.Ok(aliceGit.Home, "clone", "--quiet", "-b", branch, url, "work");
        var aliceWork = aliceGit.Folder("work");
        using var bobGit = new GitClient("bob");
        bobGit.Token = room.BobToken;
        bobGit.Ok(bobGit.Home, "clone", "--quiet", "-b", branch, url, "work");
        var bobWork = bobGit.Folder("work");
        Commit(bobGit, bobWork, "bob.txt");
        Commit(aliceGit, aliceWork, "alice.txt");

        // Bob (allowed to push) writes his own branch and a topic branch.
        bobGit.Ok(bobWork, "push", "--quiet", "origin", $"HEAD:refs/heads/{branch}-{room.BobLogin}", $"HEAD:refs/heads/{branch}-bobs-topic");
        var bobsTip = bobGit.Ok(bobWork, "rev-parse", "HEAD").Trim();

        // Nobody else writes it, the host included; nor Alice's own branch, which Bob may not write either (forced
        // pushes, so that the server, not the client's fast-forward check, decides).
        var hostOnBob = aliceGit.Run(aliceWork, "push", "--force", "origin", $"HEAD:refs/heads/{branch}-{room.BobLogin}");
        AssertRefused(hostOnBob, $"{branch}-{room.BobLogin}", $"it is {room.BobLogin}'s own branch");
        var bobOnAlice = bobGit.Run(bobWork, "push", "--force", "origin", $"HEAD:refs/heads/{branch}-{room.AliceLogin}");
        AssertRefused(bobOnAlice, $"{branch}-{room.AliceLogin}", $"it is {room.AliceLogin}'s own branch");
        var deleteBob = aliceGit.Run(aliceWork, "push", "origin", $":refs/heads/{branch}-{room.BobLogin}");
        AssertRefused(deleteBob, $"{branch}-{room.BobLogin}", "own branch");

        // A push that also touches a tag or main is refused as a whole: the room's branch does not move either.
        var roomTip = aliceGit.Ok(aliceWork, "ls-remote", "origin", $"refs/heads/{branch}").Split('\t')[0];
        aliceGit.Ok(aliceWork, "tag", "v1");
        var withTag = aliceGit.Run(aliceWork, "push", "origin", $"HEAD:refs/heads/{branch}", "refs/tags/v1");
        AssertRefused(withTag, "v1", "only session/");
        Assert.Contains($"[remote rejected] HEAD -> {branch} (not applied: another ref in this push was refused)", withTag.Error, StringComparison.Ordinal);
        var withMain = aliceGit.Run(aliceWork, "push", "origin", $"HEAD:refs/heads/{branch}", "HEAD:refs/heads/main");
        AssertRefused(withMain, "main", "only session/");
        var listed = aliceGit.Ok(aliceWork, "ls-remote", "origin");
        Assert.Contains($"{roomTip}\trefs/heads/{branch}\n", listed, StringComparison.Ordinal);
        Assert.Contains($"{bobsTip}\trefs/heads/{branch}-{room.BobLogin}\n", listed, StringComparison.Ordinal);
        Assert.DoesNotContain("refs/tags/v1", listed, StringComparison.Ordinal);
        Assert.DoesNotContain("refs/heads/main", listed, StringComparison.Ordinal);

        // The room's branch alone is accepted.
        aliceGit.Ok(aliceWork, "push", "--quiet", "origin", $"HEAD:refs/heads/{branch}");
        var refused = (await ApiClient.ExpectAsync(await alice.GetAsync($"/audit?room_id={roomId}"), HttpStatusCode.OK)).GetProperty("entries").EnumerateArray()
            .Count(e => e.GetProperty("action").GetString() == "push_refused");
        Assert.Equal(5, refused);
    }

    private static void AssertRefused(GitResult result, string reference, string reason)
    {
        Assert.True(result.ExitCode != 0, $"the push was accepted: {result.Error}");
        Assert.True(result.Error.Contains("remote: Conductor: push refused as a whole", StringComparison.Ordinal), result.Error);
        Assert.Contains("[remote rejected]", result.Error, StringComparison.Ordinal);
        Assert.Contains(reference, result.Error, StringComparison.Ordinal);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
    }

    private static void Commit(GitClient git, string work, string file)
    {
        File.WriteAllText(Path.Combine(work, file), file + "\n");
        git.Ok(work, "add", file);
        git.Ok(work, "commit", "--quiet", "-m", "Add " + file);
    }

    private static string HashOf(GitClient git, string work, string content)
    {
        var path = Path.Combine(git.Home, "content.txt");
        File.WriteAllText(path, content);
        return git.Ok(work, "hash-object", path).Trim();
    }
}
