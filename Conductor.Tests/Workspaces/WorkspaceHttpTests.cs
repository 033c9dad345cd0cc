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

        var commit = await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomId}/commit?wait=60", new { message = "Edit over HTTP" }), HttpStatusCode.OK);
        Assert.True(commit.GetProperty("committed").GetBoolean());
        Assert.True(commit.GetProperty("pushed").GetBoolean(), commit.GetRawText());
        Assert.Equal($"{aliceLogin}|Edit over HTTP", TestGit.Run(bare, "log", "-1", "--format=%an|%s", $"session/{roomId}").Trim());
        var nothing = await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomId}/commit?wait=60", new { message = "again" }), HttpStatusCode.OK);
        Assert.Equal("no changes", nothing.GetProperty("reason").GetString());

        // Only the host deletes; a member who is not the host is refused (bob is not even a member here).
        await ApiClient.ExpectProblemAsync(await bob.DeleteAsync($"/workspace/{roomId}"), HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.NoContent, (await alice.DeleteAsync($"/workspace/{roomId}?wait=60")).StatusCode);
        await ApiClient.ExpectProblemAsync(await alice.GetAsync($"/workspace/{roomId}"), HttpStatusCode.NotFound);
        Assert.DoesNotContain(env.Token, api.Output, StringComparison.Ordinal);
    }
}
