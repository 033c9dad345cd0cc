using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;
using Conductor.Tests.Workspaces;

namespace Conductor.Tests.GitRemote;

/// <summary>
/// A fetch's negotiation tells a member nothing about the shared store: rooms on one remote share one object database,
/// and upload-pack acknowledges every <c>have</c> whose object it holds, so the Api passes on only the haves (and
/// shallows) the room's refs reach. Hand-built upload-pack requests over HTTP against a real Api and git, and real git
/// 2.39 clients fetching with real haves.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class GitRemoteNegotiationTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    private const string Secret = "room b's secret, not for room a\n";

    [Theory]
    [InlineData(2)]
    [InlineData(0)]
    public async Task A_have_naming_another_rooms_commit_is_not_acknowledged_while_one_the_room_reaches_is_and_an_absurd_number_of_haves_or_a_garbled_body_is_refused(int version)
    {
        await using var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, "negotiation.git", "room a");
        var (env, alice, bob, roomA) = (room.Env, room.Alice, room.Bob, room.RoomId);
        var remote = env.Server.UrlOf("negotiation.git");
        await ApiClient.ExpectAsync(await alice.PostAsync("/workspace/create?wait=60", new { room_id = roomA, repo_url = remote, token = env.Token }), HttpStatusCode.Created);
        // Room B on the same remote, so in the same store; its host commits a secret there.
        var roomB = (await ApiClient.ExpectAsync(await alice.PostAsync("/rooms", new { name = "room b" }), HttpStatusCode.Created)).GetProperty("room_id").GetGuid();
        await ApiClient.ExpectAsync(await alice.PostAsync("/workspace/create?wait=60", new { room_id = roomB, repo_url = remote, token = env.Token }), HttpStatusCode.Created);
        var secretCommit = await CommitAsync(alice, roomB, "secret.txt", Secret);
        var secretBlob = BlobId(Secret);
        // Room A moves on: its first commit is no longer its tip, but the room reaches it.
        var roomAFirst = (await ApiClient.ExpectAsync(await alice.GetAsync($"/workspace/{roomA}"), HttpStatusCode.OK)).GetProperty("head_commit").GetString()!;
        var roomATip = await CommitAsync(alice, roomA, "a.txt", "room a\n");
        Assert.NotEqual(roomAFirst, roomATip);

        // Bob is a member of room A only.
        var invite = await ApiClient.ExpectAsync(await alice.PostAsync($"/rooms/{roomA}/invites", new { }), HttpStatusCode.Created);
        await ApiClient.ExpectAsync(await bob.PostAsync("/rooms/join", new { token = invite.GetProperty("token").GetString() }), HttpStatusCode.OK);
        using var http = new HttpClient { BaseAddress = alice.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

        // One round of negotiation (no "done"): room A's tip wanted; as haves room B's commit, room B's blob and room A's
        // first commit. The v0 body is gzipped, as git's client sends larger ones. Room A's commit is common; nothing of
        // room B's is acknowledged.
        var lines = await NegotiateAsync(http, room.BobToken, roomA, roomATip, version, [$"have {secretCommit}", $"have {secretBlob}", $"have {roomAFirst}"]);
        AssertOnlyAcknowledged(roomAFirst, lines, secretCommit, secretBlob);
        // A shallow line naming room B's blob: upload-pack dies on a non-commit it holds ("invalid shallow object") and
        // skips one it does not hold, so it is not passed on either.
        lines = await NegotiateAsync(http, room.BobToken, roomA, roomATip, version, [$"shallow {secretBlob}", $"have {roomAFirst}"]);
        AssertOnlyAcknowledged(roomAFirst, lines, secretCommit, secretBlob);

        // A request naming more haves than are examined is refused as a whole, in git's remote-error form.
        var many = Enumerable.Range(0, 65537).Select(i => "have " + Convert.ToHexStringLower(SHA1.HashData(BitConverter.GetBytes(i)))).ToArray();
        var absurd = version == 2
            ? Packets(["command=fetch", "object-format=sha1"], [$"want {roomATip}", .. many])
            : Packets([$"want {roomATip} multi_ack_detailed side-band-64k ofs-delta"], many);
        var refused = await UploadPackAsync(http, roomA, room.BobToken, version, absurd, gzip: true);
        Assert.Equal(["ERR Conductor: upload-pack: the request names 65537 have and shallow commits, more than the 65536 examined"], refused);
        // A body that says gzip and is not: a clear refusal, not a server error.
        using var garbled = await PostAsync(http, roomA, room.BobToken, version, "not gzip at all"u8.ToArray(), gzip: true);
        Assert.Equal(HttpStatusCode.BadRequest, garbled.StatusCode);
        Assert.Equal("The fetch request is not one Conductor accepts.\n", await garbled.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task An_incremental_fetch_after_a_clone_sends_real_haves_they_are_acknowledged_and_only_the_new_objects_arrive_over_v2_and_v0()
    {
        await using var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, "incremental.git", "room a");
        var (env, alice, roomA) = (room.Env, room.Alice, room.RoomId);
        var remote = env.Server.UrlOf("incremental.git");
        await ApiClient.ExpectAsync(await alice.PostAsync("/workspace/create?wait=60", new { room_id = roomA, repo_url = remote, token = env.Token }), HttpStatusCode.Created);
        // Another room on the same store has moved on too: its commits must change nothing for room A's fetches.
        var roomB = (await ApiClient.ExpectAsync(await alice.PostAsync("/rooms", new { name = "room b" }), HttpStatusCode.Created)).GetProperty("room_id").GetGuid();
        await ApiClient.ExpectAsync(await alice.PostAsync("/workspace/create?wait=60", new { room_id = roomB, repo_url = remote, token = env.Token }), HttpStatusCode.Created);
        await CommitAsync(alice, roomB, "secret.txt", Secret);

        var url = new Uri(alice.BaseAddress, $"git/{roomA}.git").ToString();
        var branch = $"session/{roomA}";
        using var git = new GitClient("alice");
        git.Token = room.AliceToken;
        git.Ok(git.Home, "clone", "--quiet", "-b", branch, url, "work");
        var work = git.Folder("work");
        // Local commits the server never saw, dated after everything else so that git's client names them first in
        // every fetch: the Api drops them, and the negotiation takes several rounds whose bodies git gzips.
        git.Ok(work, "switch", "--quiet", "-c", "local");
        for (var i = 0; i < 60; i++)
        {
            var date = $"@{3786825600 + i} +0000"; // 2090
            var committed = git.RunWith(new Dictionary<string, string> { ["GIT_AUTHOR_DATE"] = date, ["GIT_COMMITTER_DATE"] = date }, work,
                "commit", "--quiet", "--allow-empty", "-m", $"Local {i}");
            Assert.True(committed.ExitCode == 0, committed.Error);
        }
        git.Ok(work, "switch", "--quiet", branch);
        git.Ok(work, "repack", "-a", "-d", "-q");

        foreach (var version in new[] { "2", "0" })
        {
            var known = git.Ok(work, "rev-parse", "HEAD").Trim();
            var tip = await CommitAsync(alice, roomA, $"v{version}.txt", $"new in the room, fetched over v{version}\n");
            git.Ok(work, "prune-packed");
            Assert.Equal("count: 0", git.Ok(work, "count-objects", "-v").Split('\n')[0]);
            var trace = Path.Combine(git.Home, $"trace-v{version}.txt");
            var curl = Path.Combine(git.Home, $"curl-v{version}.txt");
            var fetched = git.RunWith(new Dictionary<string, string> { ["GIT_TRACE_PACKET"] = trace, ["GIT_TRACE_CURL"] = curl, ["GIT_TRACE_CURL_NO_DATA"] = "1" }, work,
                "-c", $"protocol.version={version}", "-c", "fetch.unpackLimit=100000", "fetch", "--quiet", "origin");
            Assert.True(fetched.ExitCode == 0, fetched.Error);

            // The clone's tip went out as a have and came back acknowledged: the negotiation still finds common history.
            var packets = File.ReadAllText(trace);
            Assert.Contains($"have {known}", packets, StringComparison.Ordinal);
            Assert.Contains($"ACK {known}", packets, StringComparison.Ordinal);
            Assert.Contains("have " + git.Ok(work, "rev-parse", "local").Trim(), packets, StringComparison.Ordinal);
            var sent = File.ReadAllLines(curl).Where(l => l.Contains("Send header", StringComparison.Ordinal) || l.Contains("Content-", StringComparison.Ordinal)).ToList();
            Assert.True(sent.Any(l => l.Contains("Content-Encoding: gzip", StringComparison.Ordinal)), $"v{version}: " + string.Join("\n", sent));
            // Only the new commit, its tree and its blob arrived (unpacked as loose objects), with the right content.
            Assert.Equal("count: 3", git.Ok(work, "count-objects", "-v").Split('\n')[0]);
            Assert.Equal(tip, git.Ok(work, "rev-parse", $"origin/{branch}").Trim());
            Assert.Equal($"new in the room, fetched over v{version}\n", git.Ok(work, "show", $"origin/{branch}:v{version}.txt"));
            git.Ok(work, "merge", "--quiet", "--ff-only", $"origin/{branch}");
            git.Ok(work, "repack", "-a", "-d", "-q");
        }

        // A shallow clone deepened over either protocol: its shallow line names a commit the room reaches, so it is
        // passed on, and upload-pack sends the history behind it.
        foreach (var version in new[] { "2", "0" })
        {
            var folder = $"shallow-v{version}";
            git.Ok(git.Home, "-c", $"protocol.version={version}", "clone", "--quiet", "--depth", "1", "-b", branch, url, folder);
            Assert.Equal("1", git.Ok(git.Folder(folder), "rev-list", "--count", "HEAD").Trim());
            git.Ok(git.Folder(folder), "-c", $"protocol.version={version}", "fetch", "--quiet", "--deepen", "2", "origin");
            Assert.Equal("3", git.Ok(git.Folder(folder), "rev-list", "--count", $"origin/{branch}").Trim());
            Assert.Equal("true", git.Ok(git.Folder(folder), "rev-parse", "--is-shallow-repository").Trim());
        }
    }

    /// <summary>
    /// One round of negotiation (no <c>done</c>) for <paramref name="want"/>, the shallow lines among
    /// <paramref name="named"/> with the wants and the haves after them; the v0 body gzipped, as git's client sends
    /// larger ones.
    /// </summary>
    private static Task<List<string>> NegotiateAsync(HttpClient http, string token, Guid roomId, string want, int version, string[] named)
    {
        var shallows = named.Where(n => n.StartsWith("shallow ", StringComparison.Ordinal)).ToArray();
        var haves = named.Where(n => n.StartsWith("have ", StringComparison.Ordinal)).ToArray();
        var body = version == 2
            ? Packets(["command=fetch", "agent=git/2.39.5", "object-format=sha1"], ["no-progress", $"want {want}", .. shallows, .. haves])
            : Packets([$"want {want} multi_ack_detailed side-band-64k ofs-delta agent=git/2.39.5", .. shallows], haves);
        return UploadPackAsync(http, roomId, token, version, body, gzip: version == 0);
    }

    private static void AssertOnlyAcknowledged(string common, List<string> lines, params string[] unknown)
    {
        var acks = lines.Where(l => l.StartsWith("ACK ", StringComparison.Ordinal)).ToList();
        Assert.True(acks.Count > 0 && acks.All(a => a.StartsWith($"ACK {common}", StringComparison.Ordinal)), string.Join(" | ", lines));
        Assert.DoesNotContain(lines, l => unknown.Any(u => l.Contains(u, StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.StartsWith("ERR", StringComparison.Ordinal));
    }

    /// <summary>Writes a file in the room's worktree and commits it; answers the room's new head commit.</summary>
    private static async Task<string> CommitAsync(ApiClient client, Guid roomId, string path, string content)
    {
        await ApiClient.ExpectAsync(await client.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/file?path={path}")
        { Content = JsonContent.Create(new { content }) }), HttpStatusCode.OK);
        await ApiClient.ExpectAsync(await client.PostAsync($"/workspace/{roomId}/commit?wait=60", new { message = "Add " + path, push = false }), HttpStatusCode.OK);
        return (await ApiClient.ExpectAsync(await client.GetAsync($"/workspace/{roomId}"), HttpStatusCode.OK)).GetProperty("head_commit").GetString()!;
    }

    /// <summary>git's id of a blob holding <paramref name="content"/>.</summary>
    private static string BlobId(string content)
    {
        var bytes = Encoding.UTF8.GetBytes(content);
        return Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {bytes.Length}\0"), .. bytes]));
    }

    /// <summary>
    /// Two sections of pkt-lines, each line with its line feed: in protocol v2 the command and capabilities, a
    /// delimiter, the arguments and a flush; in v0 the wants, a flush, the haves and a flush (one stateless round).
    /// </summary>
    private static byte[] Packets(string[] first, string[] second)
    {
        var stream = new MemoryStream();
        var v2 = first[0].StartsWith("command=", StringComparison.Ordinal);
        foreach (var line in first)
        {
            Packet(stream, line);
        }
        stream.Write(v2 ? "0001"u8 : "0000"u8);
        foreach (var line in second)
        {
            Packet(stream, line);
        }
        stream.Write("0000"u8);
        return stream.ToArray();
    }

    private static void Packet(Stream stream, string line)
    {
        var payload = Encoding.UTF8.GetBytes(line + "\n");
        stream.Write(Encoding.ASCII.GetBytes((payload.Length + 4).ToString("x4", CultureInfo.InvariantCulture)));
        stream.Write(payload);
    }

    /// <summary>POSTs <paramref name="body"/> to upload-pack as git's client does (Basic credentials, the token as the password).</summary>
    private static Task<HttpResponseMessage> PostAsync(HttpClient http, Guid roomId, string token, int version, byte[] body, bool gzip)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"git/{roomId}.git/git-upload-pack") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-git-upload-pack-request");
        if (gzip)
        {
            request.Content.Headers.ContentEncoding.Add("gzip");
        }
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("bob:" + token)));
        if (version == 2)
        {
            request.Headers.Add("Git-Protocol", "version=2");
        }
        return http.SendAsync(request);
    }

    /// <summary>
    /// POSTs one upload-pack request as git's client does (Basic credentials with the token as the password) and
    /// answers the text lines of the answer before any pack data.
    /// </summary>
    private static async Task<List<string>> UploadPackAsync(HttpClient http, Guid roomId, string token, int version, byte[] body, bool gzip)
    {
        if (gzip)
        {
            var compressed = new MemoryStream();
            await using (var zip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                await zip.WriteAsync(body);
            }
            body = compressed.ToArray();
        }
        using var response = await PostAsync(http, roomId, token, version, body, gzip);
        var answer = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {Encoding.UTF8.GetString(answer)}");
        var lines = new List<string>();
        for (var at = 0; at + 4 <= answer.Length;)
        {
            var length = int.Parse(Encoding.ASCII.GetString(answer, at, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            if (length < 4)
            {
                at += 4; // flush, delimiter
                continue;
            }
            var line = Encoding.UTF8.GetString(answer, at + 4, length - 4).TrimEnd('\n');
            if (line == "packfile" || line.StartsWith('\u0001') || line.StartsWith('\u0002'))
            {
                break; // the pack (v2's section, or v0's side band) follows
            }
            lines.Add(line);
            at += length;
        }
        return lines;
    }
}
