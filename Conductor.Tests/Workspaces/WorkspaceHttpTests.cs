using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Workspaces;

/// <summary>
/// The HTTP surface with real tokens: a real Api and a real GitWorker process, a room made through /rooms, a
/// remote over smart HTTP with basic auth.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class WorkspaceHttpTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    [Fact]
    public async Task Members_create_read_write_search_and_commit_over_http_and_outsiders_get_403()
    {
        await using var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, "http.git", "ws");
        var (env, api, bare, aliceLogin, alice, bob, roomId) = (room.Env, room.Api, room.Remote, room.AliceLogin, room.Alice, room.Bob, room.RoomId);

        // Bad input is a problem, not a clone: credentials in the URL, an unsupported scheme.
        await ApiClient.ExpectProblemAsync(await alice.PostAsync("/workspace/create", new { room_id = roomId, repo_url = "http://u:p@127.0.0.1/x.git" }), HttpStatusCode.BadRequest);
        await ApiClient.ExpectProblemAsync(await alice.PostAsync("/workspace/create", new { room_id = roomId, repo_url = "ext::sh -c id" }), HttpStatusCode.BadRequest);
        await ApiClient.ExpectProblemAsync(await bob.PostAsync("/workspace/create", new { room_id = roomId, repo_url = env.Server.UrlOf("http.git") }), HttpStatusCode.Forbidden);

        var created = await ApiClient.ExpectAsync(await alice.PostAsync("/workspace/create?wait=60",
            new { room_id = roomId, repo_url = env.Server.UrlOf("http.git"), token = env.Token }), HttpStatusCode.Created);
        Assert.Equal("ready", created.GetProperty("status").GetString());
        Assert.Equal($"session/{roomId}", created.GetProperty("branch").GetString());
        Assert.Equal(env.Server.UrlOf("http.git"), created.GetProperty("repo_url").GetString());
        await ApiClient.ExpectProblemAsync(await alice.PostAsync("/workspace/create", new { room_id = roomId, repo_url = env.Server.UrlOf("http.git") }), HttpStatusCode.Conflict);
        await ApiClient.ExpectProblemAsync(await bob.GetAsync($"/workspace/{roomId}"), HttpStatusCode.Forbidden);
        await ApiClient.ExpectProblemAsync(await bob.GetAsync($"/workspace/{roomId}/file?path=README.md"), HttpStatusCode.Forbidden);

        var listing = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/files?recursive=true"), HttpStatusCode.OK);
        var paths = listing.EnumerateArray().Select(e => e.GetProperty("path").GetString()).ToList();
        Assert.Contains("src/app.cs", paths);
        Assert.DoesNotContain(paths, p => p!.StartsWith(".git", StringComparison.Ordinal) && p != ".gitignore");

        var readme = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/file?path=README.md"), HttpStatusCode.OK);
        Assert.Equal("utf-8", readme.GetProperty("encoding").GetString());
        var etag = readme.GetProperty("etag").GetString()!;
        using (var put = new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/file?path=README.md") { Content = JsonContent.Create(new { content = "# Edited\n" }) })
        {
            put.Headers.TryAddWithoutValidation("If-Match", etag);
            await ApiClient.ExpectAsync(await alice.SendAsync(put), HttpStatusCode.OK);
        }
        using (var stale = new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/file?path=README.md") { Content = JsonContent.Create(new { content = "lost update\n" }) })
        {
            stale.Headers.TryAddWithoutValidation("If-Match", etag);
            await ApiClient.ExpectProblemAsync(await alice.SendAsync(stale), HttpStatusCode.PreconditionFailed);
        }
        await ApiClient.ExpectProblemAsync(await alice.GetAsync($"/workspace/{roomId}/file?path=..%2F..%2Fetc%2Fpasswd"), HttpStatusCode.BadRequest);
        await ApiClient.ExpectProblemAsync(await alice.GetAsync($"/workspace/{roomId}/file?path=.git%2Fconfig"), HttpStatusCode.BadRequest);
        await ApiClient.ExpectProblemAsync(await alice.GetAsync($"/workspace/{roomId}/file?path=missing.txt"), HttpStatusCode.NotFound);
        using (var huge = new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/file?path=huge.bin")
        { Content = JsonContent.Create(new { content = Convert.ToBase64String(new byte[10 * 1024 * 1024 + 1]), encoding = "base64" }) })
        {
            await ApiClient.ExpectProblemAsync(await alice.SendAsync(huge), HttpStatusCode.RequestEntityTooLarge);
        }
        await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomId}/rename", new { from = "src/app.cs", to = "src/main.cs" }), HttpStatusCode.OK);

        var hits = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/search?q=CONSOLE"), HttpStatusCode.OK);
        var hit = Assert.Single(hits.EnumerateArray());
        Assert.Equal("src/main.cs", hit.GetProperty("file_path").GetString());
        Assert.Equal(3, hit.GetProperty("line").GetInt32());
        // The documented snake_case query names are the ones bound (camelCase ones were silently ignored before).
        Assert.Empty((await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/search?q=CONSOLE&case_sensitive=true"), HttpStatusCode.OK))
            .EnumerateArray());
        await ApiClient.ExpectProblemAsync(await alice.GetAsync($"/workspace/{roomId}/search?q=(&regex=true"), HttpStatusCode.BadRequest);

        // The first search started the worktree's index; its file appears beside the worktree once the index answers.
        var worktree = Path.Combine(env.Root, "worktrees", roomId.ToString("D"));
        var indexFile = Path.Combine(Path.GetDirectoryName(worktree)!, $".{roomId:D}.search-index", "index.bin");
        for (var attempt = 0; attempt < 600 && !File.Exists(indexFile); attempt++)
        {
            await Task.Delay(100);
        }
        Assert.True(File.Exists(indexFile), "the search index was not built");
        // An edit behind the Api's back (no record, no git operation) is not in the index yet: the index answers.
        await File.WriteAllTextAsync(Path.Combine(worktree, "bypass.txt"), "index_token written behind the Api's back\n");
        Assert.Empty((await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/search?q=index_token"), HttpStatusCode.OK)).EnumerateArray());
        // Writes through the Api are found by the next query, with every documented snake_case parameter.
        foreach (var name in new[] { "notes/a.txt", "notes/b.txt", "notes/c.md" })
        {
            using var put = new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/file?path={name}") { Content = JsonContent.Create(new { content = "one index_token here\nindex_token again\n" }) };
            await ApiClient.ExpectAsync(await alice.SendAsync(put), HttpStatusCode.OK);
        }
        var all = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/search?q=index_token"), HttpStatusCode.OK);
        Assert.Equal(["notes/a.txt", "notes/a.txt", "notes/b.txt", "notes/b.txt", "notes/c.md", "notes/c.md"],
            all.EnumerateArray().Select(h => h.GetProperty("file_path").GetString()));
        var one = await ApiClient.ExpectAsync(await alice.GetAsync(
            $"/workspace/{roomId}/search?q=INDEX_TOKEN&max_results=1&case_sensitive=false&regex=false&whole_word=true&include=notes/**&exclude=*.md"), HttpStatusCode.OK);
        var first = Assert.Single(one.EnumerateArray());
        Assert.Equal(("notes/a.txt", 1, 5), (first.GetProperty("file_path").GetString(), first.GetProperty("line").GetInt32(), first.GetProperty("column").GetInt32()));
        Assert.Equal(2, (await ApiClient.ExpectAsync(await alice.GetAsync(
            $"/workspace/{roomId}/search?q=index_t.ken%20again&regex=true&case_sensitive=true&exclude=notes/c.md"), HttpStatusCode.OK)).GetArrayLength());
        Assert.Equal(HttpStatusCode.NoContent, (await alice.DeleteAsync($"/workspace/{roomId}/file?path=notes/b.txt")).StatusCode);
        Assert.Equal(4, (await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/search?q=index_token"), HttpStatusCode.OK)).GetArrayLength());

        // The OpenAPI document shows the same names (and worktree, which picks the room's or my own worktree).
        var openApi = await ApiClient.ExpectAsync(await alice.GetAsync("/openapi/v1.json"), HttpStatusCode.OK);
        var parameters = openApi.GetProperty("paths").GetProperty("/workspace/{room_id}/search").GetProperty("get").GetProperty("parameters")
            .EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query").Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Equal(["case_sensitive", "exclude", "include", "max_results", "q", "regex", "whole_word", "worktree"], parameters.Order(StringComparer.Ordinal));

        var commit = await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomId}/commit?wait=60", new { message = "Edit over HTTP" }), HttpStatusCode.OK);
        Assert.True(commit.GetProperty("committed").GetBoolean());
        Assert.True(commit.GetProperty("pushed").GetBoolean(), commit.GetRawText());
        Assert.Equal($"{aliceLogin}|Edit over HTTP", TestGit.Run(bare, "log", "-1", "--format=%an|%s", $"session/{roomId}").Trim());
        // The commit (the GitWorker, another process, staged and committed bypass.txt) rewrote git's index: the Api's
        // index noticed and caught up, so the edit made behind its back is found now.
        var bypass = await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomId}/search?q=index_token&include=bypass.txt"), HttpStatusCode.OK);
        Assert.Equal("bypass.txt", Assert.Single(bypass.EnumerateArray()).GetProperty("file_path").GetString());
        var nothing = await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomId}/commit?wait=60", new { message = "again" }), HttpStatusCode.OK);
        Assert.Equal("no changes", nothing.GetProperty("reason").GetString());

        // Only the host deletes; a member who is not the host is refused (bob is not even a member here).
        await ApiClient.ExpectProblemAsync(await bob.DeleteAsync($"/workspace/{roomId}"), HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.NoContent, (await alice.DeleteAsync($"/workspace/{roomId}?wait=60")).StatusCode);
        await ApiClient.ExpectProblemAsync(await alice.GetAsync($"/workspace/{roomId}"), HttpStatusCode.NotFound);
        Assert.DoesNotContain(env.Token, api.Output, StringComparison.Ordinal);
    }
}
