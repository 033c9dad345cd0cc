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

        await using var alice = await ChatSocket.ConnectAsync(room.SocketUrl(path + "?cols=100&rows=30", room.Alice));
        var ready = await alice.WaitForTypeAsync("ready");
        Assert.True(ready.GetProperty("can_write").GetBoolean());
        Assert.Equal(100, ready.GetProperty("cols").GetInt32());
        await alice.SendAsync(new { type = "input", data = "echo hello-$((6*7)); id -u\n" });
        await WaitForOutputAsync(alice, "hello-42");
        await WaitForOutputAsync(alice, "65534");

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
