using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Conductor.Tests.Auth;
using Conductor.Tests.Extension;
using Conductor.Tests.Infrastructure;
using Conductor.Tests.Workspaces;

namespace Conductor.Tests.Cli;

/// <summary>
/// The CLI's session and its live and failing sides against a real Api: the device-flow login (GitHub played by the
/// fake, approved as a person would), the 0600 session file under CONDUCTOR_CONFIG_DIR, the refresh before expiry,
/// logout revoking on the server; <c>watch --json</c> streaming the room's events until Ctrl+C; and errors as JSON
/// with exit codes that mean something.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class CliSessionTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    [Fact]
    public async Task Login_by_the_device_flow_keeps_a_0600_session_under_CONDUCTOR_CONFIG_DIR_refreshes_it_before_expiry_and_logout_revokes_it()
    {
        await using var gitHub = await FakeGitHub.StartAsync();
        await using var approver = new DeviceApprover(gitHub, "octo-" + Guid.NewGuid().ToString("N")[..8]);
        // 65 s: the CLI renews a token with less than 60 s left, so a few seconds after login it must refresh.
        await using var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, "unused.git", "unused", new Dictionary<string, string>
        {
            ["Auth:GitHub:ClientId"] = FakeGitHub.ClientId,
            ["Auth:GitHub:BaseUrl"] = gitHub.BaseUrl.AbsoluteUri,
            ["Auth:GitHub:ApiUrl"] = gitHub.ApiUrl.AbsoluteUri,
            ["Auth:AccessTokenLifetime"] = "00:01:05",
        });
        var server = room.Url.ToString().TrimEnd('/');
        using var cli = new CliProcess("dana");
        var configDir = Path.Combine(cli.Home, "elsewhere", "conductor");
        cli.Environment["CONDUCTOR_CONFIG_DIR"] = configDir;

        var login = await cli.RunAsync(cli.Home, null, "login", "--server", server, "--json");
        Assert.True(login.ExitCode == 0, login.Error);
        Assert.Contains("enter the code", login.Error, StringComparison.Ordinal);
        Assert.Equal(approver.Login, JsonDocument.Parse(login.Output).RootElement.GetProperty("login").GetString());
        Assert.Equal(Path.Combine(configDir, "session.json"), cli.SessionFile);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cli.SessionFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(configDir));
        Assert.False(Directory.Exists(Path.Combine(cli.Home, ".config", "conductor")));
        var first = Session(cli);

        // Fresh: used as it is.
        Assert.Equal(approver.Login, (await cli.JsonAsync(cli.Home, "whoami")).GetProperty("login").GetString());
        Assert.Equal(first.Access, Session(cli).Access);

        // Within a minute of expiry: renewed first (and the refresh token rotated), the file still 0600.
        await Task.Delay(first.ExpiresAt - DateTimeOffset.UtcNow - TimeSpan.FromSeconds(58));
        Assert.Equal(approver.Login, (await cli.JsonAsync(cli.Home, "whoami")).GetProperty("login").GetString());
        var renewed = Session(cli);
        Assert.NotEqual(first.Access, renewed.Access);
        Assert.NotEqual(first.Refresh, renewed.Refresh);
        Assert.True(renewed.ExpiresAt > first.ExpiresAt);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cli.SessionFile));

        // Logout revokes the session on the server: its refresh token and any copy of its access token are refused from
        // then on, the file is gone.
        var logout = await cli.JsonAsync(cli.Home, "logout");
        Assert.True(logout.GetProperty("revoked").GetBoolean());
        Assert.False(File.Exists(cli.SessionFile));
        using var anonymous = new ApiClient(room.Url);
        await ApiClient.ExpectProblemAsync(await anonymous.PostAsync("/auth/refresh", new { refresh_token = renewed.Refresh }), HttpStatusCode.Unauthorized);
        using var copied = new ApiClient(room.Url, renewed.Access);
        await ApiClient.ExpectProblemAsync(await copied.GetAsync("/auth/me"), HttpStatusCode.Unauthorized);
        var after = await cli.RunAsync(cli.Home, null, "whoami", "--server", server, "--json");
        Assert.Equal(3, after.ExitCode);
        Assert.Equal(3, JsonDocument.Parse(after.Output).RootElement.GetProperty("exit_code").GetInt32());
    }

    [Fact]
    public async Task Watch_streams_the_rooms_chat_syncs_and_jobs_as_json_lines_and_stops_cleanly_on_ctrl_c()
    {
        await using var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, "watched.git", "watched");
        var (env, alice, bob, roomId) = (room.Env, room.Alice, room.Bob, room.RoomId);
        await ApiClient.ExpectAsync(await alice.PostAsync("/workspace/create?wait=60",
            new { room_id = roomId, repo_url = env.Server.UrlOf("watched.git"), token = env.Token }), HttpStatusCode.Created);
        var invite = (await ApiClient.ExpectAsync(await alice.PostAsync($"/rooms/{roomId}/invites", new { }), HttpStatusCode.Created)).GetProperty("token").GetString()!;
        await ApiClient.ExpectAsync(await bob.PostAsync("/rooms/join", new { token = invite }), HttpStatusCode.OK);
        using var cli = new CliProcess("erin");
        await cli.JsonAsync(cli.Home, "login", "--server", room.Url.ToString(), "--dev", ApiCluster.UniqueLogin("erin"));
        Assert.Equal(roomId, (await cli.JsonAsync(cli.Home, "join", invite)).GetProperty("room_id").GetGuid());

        await using var watch = cli.Start(cli.Home, "watch", "--room", roomId.ToString(), "--json");
        var state = JsonDocument.Parse(await watch.WaitForLineAsync(_ => true, TimeSpan.FromSeconds(30))).RootElement;
        Assert.Equal(roomId, state.GetProperty("room_id").GetGuid());
        Assert.Contains(state.GetProperty("members").EnumerateArray(), m => m.GetProperty("login").GetString() == room.BobLogin);

        // A chat message, a member's sync and a job (the commit) each arrive as a JSON line.
        await ApiClient.ExpectAsync(await bob.PostAsync($"/chat/{roomId}/messages", new { content = "hello, watchers" }), HttpStatusCode.Created);
        await watch.WaitForLineAsync(l => Frame(l, "chat") is { } f && f.GetRawText().Contains("hello, watchers", StringComparison.Ordinal), TimeSpan.FromSeconds(20));

        await ApiClient.ExpectAsync(await bob.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/file?path=bob.txt&worktree=me")
        { Content = JsonContent.Create(new { content = "bob's\n" }) }), HttpStatusCode.OK);
        await ApiClient.ExpectAsync(await bob.PostAsync($"/workspace/{roomId}/sync", new { message = "Bob's file" }), HttpStatusCode.OK);
        var sync = await watch.WaitForLineAsync(l => Frame(l, "workspace_sync") is not null, TimeSpan.FromSeconds(20));
        Assert.Equal(room.BobLogin, Frame(sync, "workspace_sync")!.Value.GetProperty("login").GetString());

        await ApiClient.ExpectAsync(await alice.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/file?path=alice.txt")
        { Content = JsonContent.Create(new { content = "alice's\n" }) }), HttpStatusCode.OK);
        await ApiClient.ExpectAsync(await alice.PostAsync($"/workspace/{roomId}/commit?wait=60", new { message = "Alice's file", push = false }), HttpStatusCode.OK);
        await watch.WaitForLineAsync(l => Frame(l, "job") is { } f && f.GetProperty("status").GetString() == "succeeded", TimeSpan.FromSeconds(20));

        Assert.Equal(0, await watch.InterruptAsync(TimeSpan.FromSeconds(15)));
        // Every line it printed was one JSON document (NDJSON).
        foreach (var line in watch.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            JsonDocument.Parse(line).Dispose();
        }
    }

    [Fact]
    public async Task Errors_are_json_with_exit_codes_a_non_member_is_forbidden_and_a_server_that_is_down_unreachable_after_retries()
    {
        await using var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, "unused.git", "private");
        using var cli = new CliProcess("frank");
        await cli.JsonAsync(cli.Home, "login", "--server", room.Url.ToString(), "--dev", ApiCluster.UniqueLogin("frank"));

        // Not a member of the room: forbidden (exit 4), the problem's words and code in the JSON.
        var outsider = await cli.RunAsync(cli.Home, null, "watch", "--once", "--room", room.RoomId.ToString(), "--json");
        Assert.Equal(4, outsider.ExitCode);
        var error = JsonDocument.Parse(outsider.Output).RootElement;
        Assert.Equal(4, error.GetProperty("exit_code").GetInt32());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("error").GetString()));
        Assert.StartsWith("conductor: ", outsider.Error, StringComparison.Ordinal);

        // Bad usage.
        Assert.Equal(2, (await cli.RunAsync(cli.Home, null, "watch", "--room")).ExitCode);

        // A server that is down: retried with backoff, then exit 7 and a clear message.
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var down = await cli.RunAsync(cli.Home, null, "login", "--server", $"http://127.0.0.1:{port}", "--dev", "someone", "--json");
        Assert.Equal(7, down.ExitCode);
        var unreachable = JsonDocument.Parse(down.Output).RootElement;
        Assert.Equal("unreachable", unreachable.GetProperty("code").GetString());
        Assert.Contains("(tried 5 times)", unreachable.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains($"Cannot reach http://127.0.0.1:{port}/", down.Error, StringComparison.Ordinal);
    }

    private static (string Access, string Refresh, DateTimeOffset ExpiresAt) Session(CliProcess cli)
    {
        var session = JsonDocument.Parse(File.ReadAllText(cli.SessionFile)).RootElement;
        return (session.GetProperty("access_token").GetString()!, session.GetProperty("refresh_token").GetString()!, session.GetProperty("expires_at").GetDateTimeOffset());
    }

    private static JsonElement? Frame(string line, string type)
    {
        var frame = JsonDocument.Parse(line).RootElement;
        return frame.ValueKind == JsonValueKind.Object && frame.TryGetProperty("type", out var t) && t.GetString() == type ? frame.Clone() : null;
    }
}
