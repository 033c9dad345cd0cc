using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Net.WebSockets;
using System.Text.Json;
using Conductor.Tests.Chat;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Commands;

/// <summary>The shared terminal with real processes: a PTY, bash in the sandbox, two members on sockets.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class TerminalTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    [Fact]
    public async Task The_host_types_into_a_terminal_two_members_watch_late_joiners_get_scrollback_and_resize_reaches_the_shell()
    {
        await using var room = await CommandRoom.StartAsync(postgres, redis, "terminal");
        var path = $"/ws/terminal/{room.RoomId}/main";

        // Only the host opens one; a guest asking for a terminal that is not open gets 404, an outsider 403.
        Assert.Equal(HttpStatusCode.NotFound, await HandshakeStatusAsync(room.SocketUrl(path, room.Bob)));
        Assert.Equal(HttpStatusCode.Forbidden, await HandshakeStatusAsync(room.SocketUrl(path, room.Carol)));

        // Bob follows the room's events on the chat socket: the terminal's opening and end arrive there.
        await using var roomEvents = await ChatSocket.ConnectAsync(room.SocketUrl($"/ws/{room.RoomId}", room.Bob));
        await using var alice = await ChatSocket.ConnectAsync(room.SocketUrl(path + "?cols=100&rows=30", room.Alice));
        var ready = await alice.WaitForTypeAsync("ready");
        Assert.True(ready.GetProperty("can_write").GetBoolean());
        Assert.Equal(100, ready.GetProperty("cols").GetInt32());
        await alice.SendAsync(new { type = "input", data = "echo hello-$((6*7)); id -u\n" });
        await WaitForOutputAsync(alice, "hello-42");
        await WaitForOutputAsync(alice, "65534");
        Assert.Equal("main", (await roomEvents.WaitForTypeAsync("terminal_opened")).GetProperty("terminal_id").GetString());
        // The shell is in the same sandbox as commands: the workspaces root (other rooms' worktrees, the object
        // stores) and this repository (its .conductor/) are not there, nor the service's environment.
        var probe = $"test -e '{room.Room.Env.Root}' || echo root-absent-$((3*3)); test -e '{RepositoryPaths.Root}' || echo repo-absent-$((4*4)); "
            + "env | grep -c -i -E 'ConnectionStrings|password|token' | sed 's/^/secret-vars-/'\n";
        await alice.SendAsync(new { type = "input", data = probe });
        await WaitForOutputAsync(alice, "root-absent-9");
        await WaitForOutputAsync(alice, "repo-absent-16");
        await WaitForOutputAsync(alice, "secret-vars-0");

        // A late joiner gets the scrollback, watches live, and cannot type until granted.
        await using var bob = await ChatSocket.ConnectAsync(room.SocketUrl(path, room.Bob));
        var bobReady = await bob.WaitForTypeAsync("ready");
        Assert.False(bobReady.GetProperty("can_write").GetBoolean());
        Assert.Contains("hello-42", bobReady.GetProperty("scrollback").GetString(), StringComparison.Ordinal);
        await bob.SendAsync(new { type = "input", data = "touch /workspace/bob-was-here\n" });
        Assert.Equal("read_only", (await bob.WaitForTypeAsync("error")).GetProperty("code").GetString());
        await bob.SendAsync(new { type = "resize", cols = 50, rows = 10 });
        await alice.SendAsync(new { type = "input", data = "echo shared-$((2+3))\n" });
        await WaitForOutputAsync(alice, "shared-5");
        await WaitForOutputAsync(bob, "shared-5");
        Assert.False(File.Exists(Path.Combine(room.Worktree, "bob-was-here")));

        // Resize reaches the shell's terminal (TIOCSWINSZ) and every watcher hears of it.
        await alice.SendAsync(new { type = "resize", cols = 120, rows = 40 });
        var resized = await bob.WaitForTypeAsync("resized");
        Assert.Equal(120, resized.GetProperty("cols").GetInt32());
        await alice.SendAsync(new { type = "input", data = "stty size\n" });
        await WaitForOutputAsync(bob, "40 120");

        // The host grants bob; bob types, alice sees it.
        await alice.SendAsync(new { type = "grant", user_id = await UserIdAsync(room.Bob) });
        await bob.WaitForTypeAsync("writers");
        await bob.SendAsync(new { type = "input", data = "echo from-bob-$((1+1)) > /workspace/bob-file; cat /workspace/bob-file\n" });
        await WaitForOutputAsync(alice, "from-bob-2");
        Assert.True(File.Exists(Path.Combine(room.Worktree, "bob-file")));

        // The shell exits: everyone gets the exit frame and the socket closes; the terminal is gone.
        await alice.SendAsync(new { type = "input", data = "exit 3\n" });
        JsonElement exit;
        try
        {
            exit = await bob.WaitForTypeAsync("exit", timeout: TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException timeout)
        {
            var ps = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("ps", "-ef --forest") { RedirectStandardOutput = true })!;
            var tree = await ps.StandardOutput.ReadToEndAsync();
            throw new TimeoutException($"bob's socket: {bob.State} {bob.CloseStatus}; alice's last: {alice.Frames[^1].GetRawText()}\n" + timeout.Message + "\n" + string.Join('\n', tree.Split('\n').Where(l => l.Contains("bwrap") || l.Contains("bash --no") || l.Contains("setsid") || l.Contains("Conductor.Api"))) + "\n" + string.Join("\n", room.Room.Api.Output.Split("\n").Where(l => l.Contains("Terminal") || l.Contains("xception") || l.Contains("fail"))), timeout);
        }
        Assert.Equal(3, exit.GetProperty("code").GetInt32());
        Assert.Equal(3, (await roomEvents.WaitForTypeAsync("terminal_closed")).GetProperty("exit_code").GetInt32());
        await alice.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.NotFound, await HandshakeStatusAsync(room.SocketUrl(path, room.Bob)));

        // The host closes a terminal: its whole sandbox goes.
        await using var second = await ChatSocket.ConnectAsync(room.SocketUrl($"/ws/terminal/{room.RoomId}/second", room.Alice));
        await second.WaitForTypeAsync("ready");
        await second.SendAsync(new { type = "input", data = "sleep 31339 &\n" });
        await WaitUntilAsync(() => CommandRoom.CountHostProcesses("sleep", "31339") == 1);
        await second.SendAsync(new { type = "close" });
        await second.WaitForTypeAsync("exit");
        await WaitUntilAsync(() => CommandRoom.CountHostProcesses("sleep", "31339") == 0);
    }

    [Fact]
    public async Task A_member_on_another_api_instance_watches_and_types_through_the_relay_and_no_second_shell_starts()
    {
        await using var room = await CommandRoom.StartAsync(postgres, redis, "terminal-instances");
        // A second Api instance over the same Postgres, Redis and workspaces (as behind a load balancer).
        await using var other = ServiceInstance.Start("Conductor.Api", room.Room.Env.Jobs.ProcessEnvironment());
        var otherUrl = await other.WaitUntilListeningAsync(TimeSpan.FromSeconds(60));
        SocketEndpoint OnOther(string path, Conductor.Tests.Auth.ApiClient client) =>
            room.SocketUrl(path, client) with { Url = new Uri($"ws://{otherUrl.Authority}{path}") };
        var path = $"/ws/terminal/{room.RoomId}/main";

        await using var alice = await ChatSocket.ConnectAsync(room.SocketUrl(path, room.Alice));
        await alice.WaitForTypeAsync("ready");
        await alice.SendAsync(new { type = "input", data = "echo first-$((20+1))\n" });
        await WaitForOutputAsync(alice, "first-21");
        var processes = CountTerminalProcesses(room.Worktree);
        Assert.True(processes > 0);

        // Bob reaches the other instance: it relays him to the terminal (scrollback, live output), read-only.
        await using var bob = await ChatSocket.ConnectAsync(OnOther(path, room.Bob));
        var bobReady = await bob.WaitForTypeAsync("ready");
        Assert.False(bobReady.GetProperty("can_write").GetBoolean());
        Assert.Contains("first-21", bobReady.GetProperty("scrollback").GetString(), StringComparison.Ordinal);
        await bob.SendAsync(new { type = "input", data = "touch /workspace/relayed-guest\n" });
        Assert.Equal("read_only", (await bob.WaitForTypeAsync("error")).GetProperty("code").GetString());
        await alice.SendAsync(new { type = "input", data = "echo still-$((40+2))\n" });
        await WaitForOutputAsync(bob, "still-42");
        Assert.False(File.Exists(Path.Combine(room.Worktree, "relayed-guest")));

        // The host on the other instance too: she joins the same shell (no second one) and types through the relay.
        await using (var aliceElsewhere = await ChatSocket.ConnectAsync(OnOther(path, room.Alice)))
        {
            Assert.True((await aliceElsewhere.WaitForTypeAsync("ready")).GetProperty("can_write").GetBoolean());
            await aliceElsewhere.SendAsync(new { type = "input", data = "echo via-other-$((5*5))\n" });
            await WaitForOutputAsync(alice, "via-other-25");
            await WaitForOutputAsync(bob, "via-other-25");
        }
        Assert.Equal(processes, CountTerminalProcesses(room.Worktree));

        // Granted, bob types and resizes through the relay; the holder applies both.
        await alice.SendAsync(new { type = "grant", user_id = await UserIdAsync(room.Bob) });
        await bob.WaitForTypeAsync("writers");
        await bob.SendAsync(new { type = "input", data = "echo bob-relayed-$((7*7)) > /workspace/relayed-bob; cat /workspace/relayed-bob\n" });
        await WaitForOutputAsync(alice, "bob-relayed-49");
        Assert.True(File.Exists(Path.Combine(room.Worktree, "relayed-bob")));
        await bob.SendAsync(new { type = "resize", cols = 90, rows = 20 });
        Assert.Equal(90, (await alice.WaitForTypeAsync("resized")).GetProperty("cols").GetInt32());
        await alice.SendAsync(new { type = "input", data = "stty size\n" });
        await WaitForOutputAsync(bob, "20 90");

        // A terminal opened on the other instance is relayed the other way.
        await using (var second = await ChatSocket.ConnectAsync(OnOther($"/ws/terminal/{room.RoomId}/second", room.Alice)))
        {
            await second.WaitForTypeAsync("ready");
            await using var bobOnFirst = await ChatSocket.ConnectAsync(room.SocketUrl($"/ws/terminal/{room.RoomId}/second", room.Bob));
            await bobOnFirst.WaitForTypeAsync("ready");
            await second.SendAsync(new { type = "close" });
            await second.WaitForTypeAsync("exit");
            await bobOnFirst.WaitForTypeAsync("exit");
            await bobOnFirst.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        }

        // The shell exits: the relayed viewer gets the exit frame and a normal close; the lease goes with the terminal.
        await alice.SendAsync(new { type = "input", data = "exit 4\n" });
        Assert.Equal(4, (await bob.WaitForTypeAsync("exit", timeout: TimeSpan.FromSeconds(30))).GetProperty("code").GetInt32());
        Assert.Equal(WebSocketCloseStatus.NormalClosure, await bob.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
        await WaitUntilAsync(() => HandshakeStatusAsync(OnOther(path, room.Bob)).Result == HttpStatusCode.NotFound);

        // A lease whose holder does not answer (its instance gone, the lease not yet run out): a readable error frame
        // and a 1013 close, not a hang.
        using (var connection = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
        {
            await connection.GetDatabase().StringSetAsync($"room:{room.RoomId:D}:terminal:ghost:instance", "an-instance-that-died", TimeSpan.FromMinutes(1));
        }
        await using var ghost = await ChatSocket.ConnectAsync(OnOther($"/ws/terminal/{room.RoomId}/ghost", room.Bob));
        var error = await ghost.WaitForTypeAsync("error");
        Assert.Equal("other_instance", error.GetProperty("code").GetString());
        Assert.Contains("another Api instance", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal((WebSocketCloseStatus)1013, await ghost.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Signing_out_closes_the_sessions_terminal_sockets_with_1008_and_ends_its_command_output_stream_where_they_are_held_while_the_users_other_session_watches_on()
    {
        await using var room = await CommandRoom.StartAsync(postgres, redis, "terminal-sign-out");
        await using var other = ServiceInstance.Start("Conductor.Api", room.Room.Env.Jobs.ProcessEnvironment());
        var otherUrl = await other.WaitUntilListeningAsync(TimeSpan.FromSeconds(60));
        SocketEndpoint OnOther(string path, string accessToken) => new(new Uri($"ws://{otherUrl.Authority}{path}"), accessToken);
        var main = $"/ws/terminal/{room.RoomId}/main";
        var second = $"/ws/terminal/{room.RoomId}/second";
        // Bob on another device: a second session of the same member.
        using var anonymous = new Conductor.Tests.Auth.ApiClient(room.Room.Url);
        var bobLogin = (await Conductor.Tests.Auth.ApiClient.ExpectAsync(await room.Bob.GetAsync("/auth/me"), HttpStatusCode.OK)).GetProperty("login").GetString()!;
        var leaving = await anonymous.DevLoginAsync(bobLogin);

        // "main" is held by the first instance, "second" by the other one; bob's leaving session watches both from the
        // other instance (main through the relay), his first session watches main through the relay as well.
        await using var alice = await ChatSocket.ConnectAsync(room.SocketUrl(main, room.Alice));
        await alice.WaitForTypeAsync("ready");
        await using var aliceOnOther = await ChatSocket.ConnectAsync(OnOther(second, room.Alice.AccessToken!));
        await aliceOnOther.WaitForTypeAsync("ready");
        await using var relayed = await ChatSocket.ConnectAsync(OnOther(main, leaving.AccessToken));
        await relayed.WaitForTypeAsync("ready");
        await using var held = await ChatSocket.ConnectAsync(OnOther(second, leaving.AccessToken));
        await held.WaitForTypeAsync("ready");
        await using var staying = await ChatSocket.ConnectAsync(OnOther(main, room.Bob.AccessToken!));
        await staying.WaitForTypeAsync("ready");
        // The leaving session also follows a command it runs on the other instance (answered as SSE).
        await room.WriteFileAsync("waiter.sh", "echo waiting-$((6*6))\nsleep 60\n");
        await room.AllowAsync("bash waiter.sh");
        using var commandHttp = new HttpClient { BaseAddress = otherUrl, Timeout = Timeout.InfiniteTimeSpan };
        using var run = new HttpRequestMessage(HttpMethod.Post, $"/workspace/{room.RoomId}/commands") { Content = JsonContent.Create(new { command = "bash waiter.sh" }) };
        run.Headers.Authorization = new AuthenticationHeaderValue("Bearer", leaving.AccessToken);
        run.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var running = await commandHttp.SendAsync(run, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, running.StatusCode);
        await using var commandEvents = SseParser.Create(await running.Content.ReadAsStreamAsync()).EnumerateAsync().GetAsyncEnumerator();
        Assert.True(await commandEvents.MoveNextAsync());
        var commandId = JsonDocument.Parse(commandEvents.Current.Data).RootElement.GetProperty("id").GetGuid();
        Assert.True(await commandEvents.MoveNextAsync());
        Assert.Contains("waiting-36", commandEvents.Current.Data, StringComparison.Ordinal);

        // Signed out on the first instance; both sockets are the other instance's.
        await Conductor.Tests.Auth.ApiClient.ExpectAsync(await anonymous.PostAsync("/auth/revoke", new { refresh_token = leaving.RefreshToken }),
            HttpStatusCode.NoContent);

        foreach (var socket in new[] { relayed, held })
        {
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, await socket.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal("signed out", socket.CloseStatusDescription);
        }
        // The output stream ends cleanly (a reset would throw) with no finished event: the command, the room's, runs on.
        Assert.False(await commandEvents.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        var command = await Conductor.Tests.Auth.ApiClient.ExpectAsync(await room.Alice.GetAsync($"/workspace/{room.RoomId}/commands/{commandId}"), HttpStatusCode.OK);
        Assert.Equal("running", command.GetProperty("status").GetString());

        // The terminals run on, and bob's other session still watches main through the relay.
        await alice.SendAsync(new { type = "input", data = "echo after-sign-out-$((8*8))\n" });
        await WaitForOutputAsync(staying, "after-sign-out-64");
        await aliceOnOther.SendAsync(new { type = "input", data = "echo second-lives-$((9*9))\n" });
        await WaitForOutputAsync(aliceOnOther, "second-lives-81");
        Assert.Equal(WebSocketState.Open, staying.State);
        // The signed-out session opens no terminal again, on either instance.
        Assert.Equal(HttpStatusCode.Unauthorized, await HandshakeStatusAsync(OnOther(main, leaving.AccessToken)));
        Assert.Equal(HttpStatusCode.Unauthorized, await HandshakeStatusAsync(room.SocketUrl(second, room.Alice) with { AccessToken = leaving.AccessToken }));
        using var cancelled = await room.Alice.PostAsync($"/workspace/{room.RoomId}/commands/{commandId}/cancel", null);
        Assert.True(cancelled.IsSuccessStatusCode, $"cancel: {(int)cancelled.StatusCode}");
    }

    /// <summary>Host processes of this room's terminals: the launcher and bubblewrap name the worktree and the shell.</summary>
    private static int CountTerminalProcesses(string worktree)
    {
        var count = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline"));
                if (commandLine.Contains(worktree, StringComparison.Ordinal) && commandLine.Contains("--noprofile", StringComparison.Ordinal))
                {
                    count++;
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
            }
        }
        return count;
    }

    private static async Task<HttpStatusCode> HandshakeStatusAsync(SocketEndpoint endpoint)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        endpoint.Apply(socket.Options);
        try
        {
            await socket.ConnectAsync(endpoint.Url, CancellationToken.None);
        }
        catch (WebSocketException)
        {
        }
        return socket.HttpStatusCode;
    }

    private static async Task<string> UserIdAsync(Conductor.Tests.Auth.ApiClient client) =>
        (await Conductor.Tests.Auth.ApiClient.ExpectAsync(await client.GetAsync("/auth/me"), HttpStatusCode.OK)).GetProperty("id").GetString()!;

    private static async Task WaitForOutputAsync(ChatSocket socket, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var output = string.Concat(socket.Frames.Where(f => f.GetProperty("type").GetString() == "output").Select(f => f.GetProperty("data").GetString()));
            if (output.Contains(text, StringComparison.Ordinal))
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"No '{text}' in the terminal's output: {JsonSerializer.Serialize(output)}");
            await Task.Delay(50);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "Timed out.");
            await Task.Delay(100);
        }
    }
}
