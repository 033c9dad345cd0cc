using System.Net;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Conductor.Tests.Auth;
using Conductor.Tests.Chat;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Commands;

/// <summary>
/// Commands with real processes: a real Api and GitWorker, a real workspace, bubblewrap. Each sandbox property is
/// proved by a script run inside it.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class CommandsTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    [Fact]
    public async Task A_command_sees_only_its_worktree_as_an_unprivileged_user_without_network_secrets_or_other_processes()
    {
        await using var room = await CommandRoom.StartAsync(postgres, redis, "sandbox");
        var workspacesRoot = room.Room.Env.Root;
        // Everything the command must not reach: the workspaces root (other rooms' worktrees, the object stores),
        // this repository (where .conductor/ lives), the test's folders, Redis on loopback.
        await room.WriteFileAsync("probe.sh", $$"""
            echo "uid=$(id -u)"
            echo "pid=$$"
            echo "processes=$(ls -d /proc/[0-9]* | wc -l)"
            touch /workspace/made-by-command && echo "worktree_write=ok" || echo "worktree_write=denied"
            touch /usr/escape 2>/dev/null && echo "usr_write=ok" || echo "usr_write=denied"
            touch /etc/escape 2>/dev/null && echo "etc_write=ok" || echo "etc_write=denied"
            test -e '{{workspacesRoot}}' && echo "workspaces_root=visible" || echo "workspaces_root=absent"
            test -e '{{RepositoryPaths.Root}}' && echo "repository=visible" || echo "repository=absent"
            test -e '{{room.Room.Env.Directory}}' && echo "test_folder=visible" || echo "test_folder=absent"
            test -e /root && echo "root_home=visible" || echo "root_home=absent"
            echo "secret_vars=$(env | grep -c -i -E 'ConnectionStrings|password|token|OTEL|ASPNETCORE')"
            echo "pid1_environ=$(cat /proc/1/environ 2>/dev/null | wc -c)"
            (exec 3<>/dev/tcp/127.0.0.1/{{redis.Port}}) 2>/dev/null && echo "redis=reachable" || echo "redis=unreachable"
            echo "nproc=$(ulimit -u)"
            echo "cpu=$(ulimit -t)"
            echo "hostname=$(cat /proc/sys/kernel/hostname)"
            echo "$(grep CapEff /proc/self/status | tr -d '\t')"
            echo "$(grep NoNewPrivs /proc/self/status | tr -d '\t')"
            rm -f /workspace/.git 2>/dev/null; test -e /workspace/.git && echo "git_link=kept" || echo "git_link=removed"
            echo "to-stderr" >&2
            echo "after-stderr"
            """);
        await room.AllowAsync("bash probe.sh");

        var items = await room.RunStreamingAsync(room.Bob, new { command = "bash", args = new[] { "probe.sh" } });
        Assert.Equal("started", items[0].EventType);
        var output = CommandRoom.Output(items);
        var finished = CommandRoom.Finished(items);
        Assert.True(finished.GetProperty("status").GetString() == "succeeded", output);
        Assert.Equal(0, finished.GetProperty("exit_code").GetInt32());
        var facts = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains('=', StringComparison.Ordinal))
            .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

        Assert.Equal("65534", facts["uid"]);
        Assert.True(int.Parse(facts["pid"], System.Globalization.CultureInfo.InvariantCulture) < 10, "own PID namespace: " + facts["pid"]);
        Assert.True(int.Parse(facts["processes"], System.Globalization.CultureInfo.InvariantCulture) < 10, "sees only its own processes: " + facts["processes"]);
        Assert.Equal("ok", facts["worktree_write"]);
        Assert.True(File.Exists(Path.Combine(room.Worktree, "made-by-command")));
        Assert.Equal("denied", facts["usr_write"]);
        Assert.Equal("denied", facts["etc_write"]);
        Assert.Equal("absent", facts["workspaces_root"]);
        Assert.Equal("absent", facts["repository"]);
        Assert.Equal("absent", facts["test_folder"]);
        Assert.Equal("absent", facts["root_home"]);
        Assert.Equal("0", facts["secret_vars"]);
        Assert.Equal("0", facts["pid1_environ"]);
        Assert.Equal("unreachable", facts["redis"]);
        Assert.Equal("1024", facts["nproc"]);
        Assert.Equal("900", facts["cpu"]);
        Assert.Equal("conductor-sandbox", facts["hostname"]);
        Assert.Contains("CapEff:0000000000000000", output, StringComparison.Ordinal);
        Assert.Contains("NoNewPrivs:1", output, StringComparison.Ordinal);
        Assert.Equal("kept", facts["git_link"]);
        // stdout and stderr arrive interleaved in the order written.
        Assert.Contains("to-stderr\nafter-stderr\n", output, StringComparison.Ordinal);

        // The host allows the network: the same probe now reaches loopback services (its own namespace is gone).
        await room.PutSettingsAsync(room.Alice, new { network = true }, HttpStatusCode.OK);
        var networked = CommandRoom.Output(await room.RunStreamingAsync(room.Bob, new { command = "bash probe.sh" }));
        Assert.Contains("redis=reachable", networked, StringComparison.Ordinal);

        // The run is recorded with who ran what, and audited.
        var run = await ApiClient.ExpectAsync(await room.Alice.GetAsync($"/workspace/{room.RoomId}/commands/{finished.GetProperty("id").GetGuid()}"), HttpStatusCode.OK);
        Assert.Equal(["bash", "probe.sh"], run.GetProperty("argv").EnumerateArray().Select(a => a.GetString()));
        Assert.Contains("after-stderr", run.GetProperty("output_tail").GetString(), StringComparison.Ordinal);
        Assert.True(run.GetProperty("duration_ms").GetInt64() >= 0);
        var audit = await ApiClient.ExpectAsync(await room.Alice.GetAsync($"/audit/?room_id={room.RoomId}"), HttpStatusCode.OK);
        Assert.Contains(audit.GetProperty("entries").EnumerateArray(), e => e.GetProperty("action").GetString() == "command_run"
            && e.GetProperty("detail").GetString()!.EndsWith("bash probe.sh", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_machine_without_bubblewrap_fails_the_command_with_the_line_that_installs_it()
    {
        await using var room = await CommandRoom.StartAsync(postgres, redis, "no-bwrap",
            new Dictionary<string, string> { ["Sandbox__BwrapPath"] = "/nonexistent/bwrap" });
        await room.AllowAsync("bash probe.sh");

        var items = await room.RunStreamingAsync(room.Bob, new { command = "bash probe.sh" });
        var finished = CommandRoom.Finished(items);
        Assert.Equal("error", finished.GetProperty("status").GetString());
        Assert.Contains("[conductor] The sandbox could not start: bubblewrap is not installed at /nonexistent/bwrap " +
            "(Debian and Ubuntu: sudo apt-get install -y bubblewrap).", CommandRoom.Output(items), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Argument_tricks_and_outsiders_are_refused_run_nothing_and_are_audited()
    {
        await using var room = await CommandRoom.StartAsync(postgres, redis, "refusals");
        var marker = Path.Combine(room.Worktree, "README.md");
        async Task RefusedAsync(object request, string reason)
        {
            var problem = await ApiClient.ExpectProblemAsync(await room.Bob.PostAsync($"/workspace/{room.RoomId}/commands", request), HttpStatusCode.Forbidden);
            Assert.Equal("command_not_allowed", problem.GetProperty("code").GetString());
            Assert.Contains(reason, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        await RefusedAsync(new { command = "npm test; rm -rf /" }, "not on this room's allowlist");
        await RefusedAsync(new { command = "npm", args = new[] { "test;", "rm", "-rf", "/" } }, "not on this room's allowlist");
        await RefusedAsync(new { command = "npm", args = new[] { "test", "&&", "rm", "-rf", "/" } }, "metacharacter");
        await RefusedAsync(new { command = "npm test -- --prefix=/tmp" }, "'--' is not allowed");
        await RefusedAsync(new { command = "pytest ../../worktrees" }, "outside the worktree");
        await RefusedAsync(new { command = "pytest /etc/passwd" }, "outside the worktree");
        await RefusedAsync(new { command = "rm -rf README.md" }, "not on this room's allowlist");
        Assert.True(File.Exists(marker));
        await ApiClient.ExpectProblemAsync(await room.Bob.PostAsync($"/workspace/{room.RoomId}/commands", new { command = "" }), HttpStatusCode.BadRequest);
        await ApiClient.ExpectProblemAsync(await room.Bob.PostAsync($"/workspace/{room.RoomId}/commands", new { command = "npm test", timeout_s = 0 }),
            HttpStatusCode.BadRequest);

        // Outsiders: not a member, a guest editing the allowlist.
        var outsider = await ApiClient.ExpectProblemAsync(await room.Carol.PostAsync($"/workspace/{room.RoomId}/commands", new { command = "make test" }),
            HttpStatusCode.Forbidden);
        Assert.Equal("not_in_room", outsider.GetProperty("code").GetString());
        await room.PutSettingsAsync(room.Bob, new { allowlist = new[] { new { command = "bash", options = Array.Empty<string>() } } }, HttpStatusCode.Forbidden);
        await room.PutSettingsAsync(room.Alice, new { allowlist = new[] { new { command = "/bin/bash", options = Array.Empty<string>() } } }, HttpStatusCode.BadRequest);
        await room.PutSettingsAsync(room.Alice, new { max_concurrent = 0 }, HttpStatusCode.BadRequest);

        var audit = await ApiClient.ExpectAsync(await room.Alice.GetAsync($"/audit/?room_id={room.RoomId}"), HttpStatusCode.OK);
        var refusals = audit.GetProperty("entries").EnumerateArray().Where(e => e.GetProperty("action").GetString() == "command_refused").ToList();
        Assert.Equal(7, refusals.Count);
        Assert.Contains(refusals, e => e.GetProperty("detail").GetString()!.StartsWith("npm test; rm -rf /:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Timeouts_cancels_and_limits_stop_the_whole_process_tree()
    {
        await using var room = await CommandRoom.StartAsync(postgres, redis, "limits", new Dictionary<string, string>
        {
            ["Commands:MaxOutputBytes"] = "65536",
            ["Commands:TailBytes"] = "1024",
            ["Commands:RunBurst"] = "12",
            ["Commands:RunsPerMinute"] = "1",
        });
        // A child and a grandchild (re-parented inside the sandbox), each with a command line nothing else has.
        await room.WriteFileAsync("sleepers.sh", "sleep 31337 &\n(sleep 31338 &)\necho started\nwait\n");
        await room.WriteFileAsync("chatty.sh", "head -c 300000 /dev/zero | tr '\\0' 'x'\necho never-reached-the-end\n");
        await room.AllowAsync("bash sleepers.sh", "bash chatty.sh");

        // Cancel: whoever ran it (or the host) stops it, and the grandchild dies with it.
        var started = await room.StartAsync(room.Bob, new { command = "bash sleepers.sh" });
        var id = started.GetProperty("id").GetGuid();
        await WaitUntilAsync(() => CommandRoom.CountHostProcesses("sleep", "31338") == 1, "the grandchild to start");
        // One running command per room by default.
        var busy = await ApiClient.ExpectProblemAsync(await room.Alice.PostAsync($"/workspace/{room.RoomId}/commands", new { command = "bash chatty.sh" }),
            HttpStatusCode.Conflict);
        Assert.Equal("command_running", busy.GetProperty("code").GetString());
        var cancelled = await ApiClient.ExpectAsync(await room.Bob.PostAsync($"/workspace/{room.RoomId}/commands/{id}/cancel", null), HttpStatusCode.OK);
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        await WaitUntilAsync(() => CommandRoom.CountHostProcesses("sleep", "31337") + CommandRoom.CountHostProcesses("sleep", "31338") == 0,
            "the child and grandchild to be gone");
        await ApiClient.ExpectProblemAsync(await room.Bob.PostAsync($"/workspace/{room.RoomId}/commands/{id}/cancel", null), HttpStatusCode.Conflict);
        await ApiClient.ExpectProblemAsync(await room.Bob.PostAsync($"/workspace/{room.RoomId}/commands/{Guid.NewGuid()}/cancel", null), HttpStatusCode.NotFound);

        // Wall time: the same tree, stopped by its timeout.
        var timedOut = CommandRoom.Finished(await room.RunStreamingAsync(room.Bob, new { command = "bash sleepers.sh", timeout_s = 2 }));
        Assert.Equal("timed_out", timedOut.GetProperty("status").GetString());
        await WaitUntilAsync(() => CommandRoom.CountHostProcesses("sleep", "31337") + CommandRoom.CountHostProcesses("sleep", "31338") == 0,
            "the timed-out tree to be gone");

        // Output size: stopped once past the limit; the stream carries at most the limit, the record a bounded tail.
        var chatty = await room.RunStreamingAsync(room.Bob, new { command = "bash chatty.sh" });
        var limited = CommandRoom.Finished(chatty);
        Assert.Equal("output_limit", limited.GetProperty("status").GetString());
        Assert.True(limited.GetProperty("output_truncated").GetBoolean());
        Assert.True(limited.GetProperty("output_tail").GetString()!.Length <= 1024);
        var streamed = CommandRoom.Output(chatty);
        Assert.InRange(streamed.Count(c => c == 'x'), 1, 65536);
        Assert.DoesNotContain("never-reached-the-end", streamed, StringComparison.Ordinal);

        // Per-user rate: bob has used 3 of his burst of 12 (refused attempts count too); the burst runs out with a 429.
        HttpResponseMessage? response = null;
        var refused = 0;
        for (; refused < 12; refused++)
        {
            response = await room.Bob.PostAsync($"/workspace/{room.RoomId}/commands", new { command = "rm -rf /" });
            if (response.StatusCode != HttpStatusCode.Forbidden)
            {
                break;
            }
        }
        Assert.InRange(refused, 9, 10); // 9, or 10 when a minute passed and one token came back
        var limitedRate = await ApiClient.ExpectProblemAsync(response!, (HttpStatusCode)429);
        Assert.Equal("rate_limited", limitedRate.GetProperty("code").GetString());

        // The bucket is in Redis: another Api instance (same settings, as behind a load balancer) refuses bob as well,
        // and still serves alice from her own budget.
        await using var other = ServiceInstance.Start("Conductor.Api", room.Room.Env.Jobs.ProcessEnvironment());
        var otherUrl = await other.WaitUntilListeningAsync(TimeSpan.FromSeconds(60));
        using var bobElsewhere = new ApiClient(otherUrl, room.Bob.AccessToken);
        var elsewhere = await ApiClient.ExpectProblemAsync(await bobElsewhere.PostAsync($"/workspace/{room.RoomId}/commands", new { command = "rm -rf /" }),
            (HttpStatusCode)429);
        Assert.Equal("rate_limited", elsewhere.GetProperty("code").GetString());
        using var aliceElsewhere = new ApiClient(otherUrl, room.Alice.AccessToken);
        await ApiClient.ExpectProblemAsync(await aliceElsewhere.PostAsync($"/workspace/{room.RoomId}/commands", new { command = "rm -rf /" }),
            HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task The_room_event_stream_resumes_after_a_disconnect_and_the_chat_socket_carries_the_same_events()
    {
        await using var room = await CommandRoom.StartAsync(postgres, redis, "events");
        await using var chat = await ChatSocket.ConnectAsync(room.SocketUrl($"/ws/{room.RoomId}", room.Bob));
        using var http = room.StreamingClient(room.Bob);

        // First connection: starts from now, sees a command run from start to finish, then drops.
        string lastSeen;
        using (var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            using var response = await http.GetAsync($"/rooms/{room.RoomId}/events", HttpCompletionOption.ResponseHeadersRead, cancel.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await using var stream = await response.Content.ReadAsStreamAsync(cancel.Token);
            var events = SseParser.Create(stream).EnumerateAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);
            Assert.True(await events.MoveNextAsync());
            Assert.Equal("ready", events.Current.EventType);
            var first = await room.StartAsync(room.Alice, new { command = "make test" });
            var seen = new List<SseItem<string>>();
            while (await events.MoveNextAsync())
            {
                seen.Add(events.Current);
                if (events.Current.EventType == "command_finished")
                {
                    break;
                }
            }
            Assert.Contains(seen, e => e.EventType == "command_started" && e.Data.Contains(first.GetProperty("id").GetString()!, StringComparison.Ordinal));
            Assert.All(seen, e => Assert.Equal(e.EventId, JsonDocument.Parse(e.Data).RootElement.GetProperty("event_id").GetString()));
            lastSeen = seen[^1].EventId!;
            await events.DisposeAsync();
        }

        // While disconnected: the host ends another run, and changes the settings.
        var second = await room.StartAsync(room.Alice, new { command = "make test" });
        await room.WaitFinishedAsync(second.GetProperty("id").GetGuid(), TimeSpan.FromSeconds(60));
        await room.PutSettingsAsync(room.Alice, new { max_concurrent = 2 }, HttpStatusCode.OK);

        // Resumed with Last-Event-ID: exactly what was missed, in order, nothing seen before.
        using (var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/rooms/{room.RoomId}/events");
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastSeen);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
            await using var stream = await response.Content.ReadAsStreamAsync(cancel.Token);
            var missed = new List<SseItem<string>>();
            await foreach (var item in SseParser.Create(stream).EnumerateAsync(cancel.Token))
            {
                missed.Add(item);
                if (item.EventType == "command_settings_changed")
                {
                    break;
                }
            }
            Assert.Equal("command_started", missed[0].EventType);
            Assert.Contains(second.GetProperty("id").GetString()!, missed[0].Data, StringComparison.Ordinal);
            Assert.Contains(missed, e => e.EventType == "command_finished");
            Assert.All(missed, e => Assert.True(EventIdOrder(e.EventId!).CompareTo(EventIdOrder(lastSeen)) > 0, $"{e.EventId} was seen before {lastSeen}"));
        }

        // The chat socket relayed the same events live, with the same ids.
        var finished = await chat.WaitForTypeAsync("command_finished", f => f.GetProperty("command_id").GetString() == second.GetProperty("id").GetString());
        Assert.False(string.IsNullOrEmpty(finished.GetProperty("event_id").GetString()));

        // A malformed Last-Event-ID is a 400; outsiders get a 403.
        using (var bad = new HttpRequestMessage(HttpMethod.Get, $"/rooms/{room.RoomId}/events"))
        {
            bad.Headers.TryAddWithoutValidation("Last-Event-ID", "yesterday");
            using var response = await http.SendAsync(bad);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
        using var outsider = room.StreamingClient(room.Carol);
        using (var response = await outsider.GetAsync($"/rooms/{room.RoomId}/events", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }
    }

    private static (ulong, ulong) EventIdOrder(string id) =>
        (ulong.Parse(id.Split('-')[0], System.Globalization.CultureInfo.InvariantCulture), ulong.Parse(id.Split('-')[1], System.Globalization.CultureInfo.InvariantCulture));

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(100);
        }
    }
}
