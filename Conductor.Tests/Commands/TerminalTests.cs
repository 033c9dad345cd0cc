using System.Net;
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
        await alice.SendAsync(new { type = "input", data =
            $"test -e '{room.Room.Env.Root}' || echo root-absent-$((3*3)); test -e '{RepositoryPaths.Root}' || echo repo-absent-$((4*4)); " +
            "env | grep -c -i -E 'ConnectionStrings|password|token' | sed 's/^/secret-vars-/'\n" });
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
    public async Task Another_api_instance_answers_for_a_terminal_it_does_not_hold_with_an_error_frame_and_never_a_second_shell()
    {
        await using var room = await CommandRoom.StartAsync(postgres, redis, "terminal-instances");
        // A second Api instance over the same Postgres, Redis and workspaces (as behind a load balancer).
        await using var other = ServiceInstance.Start("Conductor.Api", room.Room.Env.Jobs.ProcessEnvironment());
        var otherUrl = await other.WaitUntilListeningAsync(TimeSpan.FromSeconds(60));
        Uri OnOther(string path, Conductor.Tests.Auth.ApiClient client) => new($"ws://{otherUrl.Authority}{room.SocketUrl(path, client).PathAndQuery}");
        var path = $"/ws/terminal/{room.RoomId}/main";

        await using var alice = await ChatSocket.ConnectAsync(room.SocketUrl(path, room.Alice));
        await alice.WaitForTypeAsync("ready");
        await alice.SendAsync(new { type = "input", data = "echo first-$((20+1))\n" });
        await WaitForOutputAsync(alice, "first-21");
        var processes = CountTerminalProcesses(room.Worktree);
        Assert.True(processes > 0);

        // A guest, and the host too, reaching the other instance: a readable error frame and a close, not a hang, not a
        // 404, and no second shell under the same id.
        foreach (var client in new[] { room.Bob, room.Alice })
        {
            await using var elsewhere = await ChatSocket.ConnectAsync(OnOther(path, client));
            var error = await elsewhere.WaitForTypeAsync("error");
            Assert.Equal("other_instance", error.GetProperty("code").GetString());
            Assert.Contains("another Api instance", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Equal((WebSocketCloseStatus)1013, await elsewhere.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
            Assert.DoesNotContain(elsewhere.Frames, f => f.GetProperty("type").GetString() == "ready");
        }
        Assert.Equal(processes, CountTerminalProcesses(room.Worktree));

        // The original is unharmed; another id opens on the other instance, which then holds that one.
        await alice.SendAsync(new { type = "input", data = "echo still-$((40+2))\n" });
        await WaitForOutputAsync(alice, "still-42");
        await using (var second = await ChatSocket.ConnectAsync(OnOther($"/ws/terminal/{room.RoomId}/second", room.Alice)))
        {
            Assert.True((await second.WaitForTypeAsync("ready")).GetProperty("can_write").GetBoolean());
            await using var bobOnFirst = await ChatSocket.ConnectAsync(room.SocketUrl($"/ws/terminal/{room.RoomId}/second", room.Bob));
            Assert.Equal("other_instance", (await bobOnFirst.WaitForTypeAsync("error")).GetProperty("code").GetString());
            await second.SendAsync(new { type = "close" });
            await second.WaitForTypeAsync("exit");
        }

        // When the shell exits its lease goes: the other instance then answers as for any terminal that is not open.
        await alice.SendAsync(new { type = "input", data = "exit\n" });
        await alice.WaitForTypeAsync("exit", timeout: TimeSpan.FromSeconds(30));
        await WaitUntilAsync(() => HandshakeStatusAsync(OnOther(path, room.Bob)).Result == HttpStatusCode.NotFound);
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

    private static async Task<HttpStatusCode> HandshakeStatusAsync(Uri url)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        try
        {
            await socket.ConnectAsync(url, CancellationToken.None);
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
