using System.Net;
using System.Net.Http.Json;
using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Workspaces;

/// <summary>
/// The source-control view over HTTP (status, diff, log) with a real Api, a real GitWorker process and a remote
/// over smart HTTP with basic auth; results are checked against the git CLI's view of the same worktree.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class WorkspaceSourceControlHttpTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    [Fact]
    public async Task Members_see_changed_files_a_unified_diff_and_the_log_and_outsiders_and_bad_input_get_problems()
    {
        await using var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, "scm.git", "scm");
        var (env, api, bare, aliceLogin, alice, bob, roomId) = (room.Env, room.Api, room.Remote, room.AliceLogin, room.Alice, room.Bob, room.RoomId);

        await ApiClient.ExpectProblemAsync(await alice.GetAsync($"/workspace/{roomId}/status"), HttpStatusCode.NotFound);
        await ApiClient.ExpectAsync(await alice.PostAsync("/workspace/create?wait=60",
            new { room_id = roomId, repo_url = env.Server.UrlOf("scm.git"), token = env.Token }), HttpStatusCode.Created);

        var clean = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/status"), HttpStatusCode.OK);
        Assert.Empty(clean.GetProperty("files").EnumerateArray());
        Assert.Equal($"session/{roomId}", clean.GetProperty("branch").GetString());
        Assert.Equal(TestGit.Run(bare, "rev-parse", "main").Trim(), clean.GetProperty("head_commit").GetString());

        // A modified, a new and a deleted file, as an IDE's source-control view lists them.
        await ApiClient.ExpectAsync(await alice.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/file?path=README.md")
        { Content = JsonContent.Create(new { content = "# Team repository\nHello Conductor, edited\n" }) }), HttpStatusCode.OK);
        await ApiClient.ExpectAsync(await alice.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/file?path=docs/new.md")
        { Content = JsonContent.Create(new { content = "new\n" }) }), HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.NoContent, (await alice.DeleteAsync($"/workspace/{roomId}/file?path=src/app.cs")).StatusCode);

        var status = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/status"), HttpStatusCode.OK);
        var files = status.GetProperty("files").EnumerateArray()
            .Select(f => $"{f.GetProperty("path").GetString()}={f.GetProperty("state").GetString()}").ToList();
        Assert.Equal(["README.md=modified", "docs/new.md=untracked", "src/app.cs=deleted"], files);
        var worktree = Path.Combine(env.Root, "worktrees", roomId.ToString("D"));
        Assert.Equal(" D src/app.cs\n M README.md\n?? docs/new.md",
            string.Join('\n', TestGit.Run(worktree, "status", "--porcelain", "--untracked-files=all").Trim('\n').Split('\n').Order(StringComparer.Ordinal)));

        var diff = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/diff?path=README.md"), HttpStatusCode.OK);
        var patch = diff.GetProperty("patch").GetString()!;
        Assert.Contains("--- a/README.md\n+++ b/README.md\n", patch, StringComparison.Ordinal);
        Assert.Contains("-Hello Conductor\n+Hello Conductor, edited\n", patch, StringComparison.Ordinal);
        Assert.Equal(1, diff.GetProperty("lines_added").GetInt32());
        Assert.Equal(1, diff.GetProperty("lines_deleted").GetInt32());
        Assert.False(diff.GetProperty("binary").GetBoolean());
        var added = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/diff?path=docs/new.md"), HttpStatusCode.OK);
        Assert.Contains("+new\n", added.GetProperty("patch").GetString()!, StringComparison.Ordinal);
        var unchanged = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/diff?path=.gitignore"), HttpStatusCode.OK);
        Assert.Equal("", unchanged.GetProperty("patch").GetString());

        var commit = await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomId}/commit?wait=60", new { message = "Edit, add, delete", push = false }), HttpStatusCode.OK);
        Assert.True(commit.GetProperty("committed").GetBoolean());
        var log = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/log?limit=2"), HttpStatusCode.OK);
        var commits = log.GetProperty("commits").EnumerateArray().ToList();
        Assert.Equal(2, commits.Count);
        Assert.Equal(commit.GetProperty("commit").GetString(), commits[0].GetProperty("sha").GetString());
        Assert.Equal("Edit, add, delete", commits[0].GetProperty("message").GetString());
        Assert.Equal(aliceLogin, commits[0].GetProperty("author_name").GetString());
        Assert.Equal(commits[1].GetProperty("sha").GetString(), commits[0].GetProperty("parents")[0].GetString());
        Assert.Equal(TestGit.Run(worktree, "log", "-2", "--format=%H").Trim().Split('\n'),
            commits.Select(c => c.GetProperty("sha").GetString()));
        Assert.Empty((await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/status"), HttpStatusCode.OK)).GetProperty("files").EnumerateArray());

        // Outsiders and bad input.
        await ApiClient.ExpectProblemAsync(await bob.GetAsync($"/workspace/{roomId}/status"), HttpStatusCode.Forbidden);
        await ApiClient.ExpectProblemAsync(await bob.GetAsync($"/workspace/{roomId}/diff?path=README.md"), HttpStatusCode.Forbidden);
        await ApiClient.ExpectProblemAsync(await bob.GetAsync($"/workspace/{roomId}/log"), HttpStatusCode.Forbidden);
        await ApiClient.ExpectProblemAsync(await alice.GetAsync($"/workspace/{roomId}/diff?path=..%2F..%2Fetc%2Fpasswd"), HttpStatusCode.BadRequest);
        await ApiClient.ExpectProblemAsync(await alice.GetAsync($"/workspace/{roomId}/diff"), HttpStatusCode.BadRequest);
        await ApiClient.ExpectProblemAsync(await alice.GetAsync($"/workspace/{roomId}/log?limit=0"), HttpStatusCode.BadRequest);
        await ApiClient.ExpectProblemAsync(await alice.GetAsync($"/workspace/not-a-uuid/status"), HttpStatusCode.BadRequest);
    }
}
