using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conductor.Tests.Ai;
using Conductor.Tests.Chat;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.AiChat;

/// <summary>
/// @ai in room chat against two real Api instances (real Postgres, Redis, sockets) and a fake OpenAI server on
/// 127.0.0.1 that streams tool calls and text in the real chat-completions wire format.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class AiChatTests(PostgresServerFixture postgres, RedisServerFixture redis) : IAsyncLifetime
{
    private const string Key = "sk-aichat-secret-0123456789";
    private FakeAiServer _fake = null!;
    private readonly string _workspaces = TestDirectories.Create("aichat-workspaces");

    public async Task InitializeAsync() => _fake = await FakeAiServer.StartAsync(FakeAiKind.OpenAI);

    public async Task DisposeAsync()
    {
        await _fake.DisposeAsync();
        TestDirectories.TryDelete(_workspaces);
    }

    private Task<ChatCluster> StartAsync(int instances = 2, int answerBurst = 5) => ChatCluster.StartAsync(postgres, redis, instances, new Dictionary<string, string?>
    {
        ["Ai__ProbeInterval"] = "00:00:01",
        ["Ai__Providers__fake__Kind"] = "openai",
        ["Ai__Providers__fake__Endpoint"] = _fake.Endpoint.AbsoluteUri,
        ["Ai__Providers__fake__ApiKey"] = Key,
        ["Ai__Providers__fake__Model"] = "fake-model",
        ["Ai__DefaultProvider"] = "fake",
        ["AiChat__AnswerBurst"] = answerBurst.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["AiChat__AnswersPerMinute"] = "0.1",
        ["Workspaces__Root"] = _workspaces,
    });

    /// <summary>A ready workspace over a git folder holding src/app.cs (search lists files through git).</summary>
    private async Task SeedWorkspaceAsync(ChatCluster cluster, Guid roomId, ChatUser host)
    {
        var worktree = Path.Combine(_workspaces, "worktrees", roomId.ToString("D"));
        await ConductorApiFixture.SeedReadyWorkspaceAsync(cluster.DatabaseConnectionString, worktree, roomId, host.Id);
        Directory.CreateDirectory(Path.Combine(worktree, "src"));
        await File.WriteAllTextAsync(Path.Combine(worktree, "src", "app.cs"), "class App { string needle = \"here\"; }\n");
        using var git = Process.Start(new ProcessStartInfo("git", ["init", "-q", worktree]) { RedirectStandardError = true })!;
        await git.WaitForExitAsync();
        Assert.Equal(0, git.ExitCode);
    }

    /// <summary>The name under which the request offered the tool whose name ends with <paramref name="suffix"/>.</summary>
    private static string? ToolName(FakeRequest request, string suffix) =>
        request.Json.TryGetProperty("tools", out var tools)
            ? tools.EnumerateArray().Select(t => t.GetProperty("function").GetProperty("name").GetString()!).FirstOrDefault(n => n.EndsWith(suffix, StringComparison.Ordinal))
            : null;

    private static bool HasToolResult(FakeRequest request) =>
        request.Json.GetProperty("messages").EnumerateArray().Any(m => m.GetProperty("role").GetString() == "tool");

    private static string Type(JsonElement frame) => frame.GetProperty("type").GetString()!;

    [Fact]
    public async Task An_ai_answer_calls_a_workspace_tool_streams_to_two_members_on_two_instances_and_is_stopped_mid_way()
    {
        await using var cluster = await StartAsync();
        var alice = await cluster.CreateUserAsync("alice-ai");
        var bob = await cluster.CreateUserAsync("bob-ai");
        var roomId = await cluster.CreateRoomAsync(alice, bob);
        await SeedWorkspaceAsync(cluster, roomId, alice);
        var marker = Guid.NewGuid().ToString("N");
        // First call: the model asks to search; second call (with the tool's result): it streams slowly and never ends.
        _fake.AnswerRequest = request => !request.Body.Contains(marker, StringComparison.Ordinal) ? null
            : !HasToolResult(request) ? FakeAnswer.Tool(ToolName(request, "search") ?? "missing-tool", """{"query":"needle"}""")
            : new FakeAnswer(["The needle ", "is in ", "src/app.cs", " on line 1", " as you", " can see"]) { TokenDelay = TimeSpan.FromMilliseconds(150), HangAtEnd = true };

        await using var aliceSocket = await cluster.ConnectAsync(0, roomId, alice);
        await using var bobSocket = await cluster.ConnectAsync(1, roomId, bob);
        await aliceSocket.SendAsync(new { type = "chat", content = $"@ai where is the needle? {marker}" });
        var question = await bobSocket.WaitForTypeAsync("chat");

        // Both members see the answer start, the tool call, and tokens as they come.
        var start = await bobSocket.WaitForTypeAsync("ai_start", timeout: TimeSpan.FromSeconds(20));
        var answerId = start.GetProperty("message_id").GetGuid();
        Assert.Equal(question.GetProperty("id").GetGuid(), start.GetProperty("reply_to").GetGuid());
        Assert.Equal("fake", start.GetProperty("provider").GetString());
        Assert.Equal("ai", start.GetProperty("login").GetString());
        foreach (var socket in new[] { aliceSocket, bobSocket })
        {
            var tool = await socket.WaitForTypeAsync("ai_tool", f => f.GetProperty("message_id").GetGuid() == answerId);
            Assert.Equal("search", tool.GetProperty("name").GetString());
            Assert.Equal("needle", tool.GetProperty("detail").GetString());
            await socket.WaitForTypeAsync("ai_token", f => f.GetProperty("index").GetInt32() == 1, TimeSpan.FromSeconds(20));
        }

        // The tool really ran against the workspace: its result went back to the provider as a tool message.
        var requests = _fake.ChatRequests.Where(r => r.Body.Contains(marker, StringComparison.Ordinal)).ToList();
        Assert.Equal(2, requests.Count);
        Assert.NotNull(ToolName(requests[0], "read_file"));
        Assert.NotNull(ToolName(requests[0], "list_files"));
        Assert.Equal(3, requests[0].Json.GetProperty("tools").GetArrayLength()); // read-only tools only
        var toolMessage = requests[1].Json.GetProperty("messages").EnumerateArray().Single(m => m.GetProperty("role").GetString() == "tool");
        Assert.Contains("src/app.cs:1:", toolMessage.GetProperty("content").ToString(), StringComparison.Ordinal);
        Assert.Contains("alice-ai", requests[1].Body, StringComparison.Ordinal); // the room's history, with logins
        Assert.Equal($"Bearer {Key}", requests[1].Authorization);

        // Bob, on the other instance, stops it mid-way: the provider's request is aborted and both see "stopped".
        await bobSocket.SendAsync(new { type = "ai_stop", message_id = answerId });
        await requests[1].ClientAborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        foreach (var socket in new[] { aliceSocket, bobSocket })
        {
            var done = await socket.WaitForTypeAsync("ai_done", f => f.GetProperty("message_id").GetGuid() == answerId);
            Assert.Equal("stopped", done.GetProperty("status").GetString());
            Assert.Equal(bob.Id, done.GetProperty("stopped_by").GetGuid());
            var stored = await socket.WaitForTypeAsync("chat", f => f.GetProperty("id").GetGuid() == answerId);
            Assert.Equal("ai", stored.GetProperty("kind").GetString());
            Assert.Equal(question.GetProperty("id").GetGuid(), stored.GetProperty("reply_to").GetGuid());
            var streamed = string.Concat(socket.Frames.Where(f => Type(f) == "ai_token" && f.GetProperty("message_id").GetGuid() == answerId)
                .Select(f => f.GetProperty("text").GetString()));
            Assert.StartsWith("The needle is in ", streamed, StringComparison.Ordinal);
            Assert.Equal(streamed + "\n\n_(stopped)_", stored.GetProperty("content").GetString());
            // Frames of one answer arrive in order: start, tool, tokens (indexes 0, 1, 2, ...), done.
            var ours = socket.Frames.Where(f => Type(f).StartsWith("ai_", StringComparison.Ordinal)).Select(Type).ToList();
            Assert.Equal("ai_start", ours[0]);
            Assert.Equal("ai_done", ours[^1]);
            var indexes = socket.Frames.Where(f => Type(f) == "ai_token").Select(f => f.GetProperty("index").GetInt32()).ToList();
            Assert.Equal(Enumerable.Range(0, indexes.Count), indexes);
        }

        // After a reconnect, history holds the stored answer.
        using var http = cluster.Http(1, bob);
        var history = await http.GetFromJsonAsync<JsonElement>($"/chat/{roomId}/history?limit=10");
        var answer = history.EnumerateArray().Single(m => m.GetProperty("id").GetGuid() == answerId);
        Assert.EndsWith("_(stopped)_", answer.GetProperty("content").GetString(), StringComparison.Ordinal);

        // A finished answer cannot be stopped again (404 alike for missing ones), and an outsider is refused.
        using var again = await http.PostAsync($"/chat/{roomId}/ai/{answerId}/stop", null);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Equal("not_found", (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        var mallory = await cluster.CreateUserAsync("mallory-ai");
        using var outsider = cluster.Http(0, mallory);
        using var refused = await outsider.PostAsync($"/chat/{roomId}/ai/{answerId}/stop", null);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.DoesNotContain(Key, cluster.Output(0) + cluster.Output(1), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_completed_answer_is_stored_plain_messages_get_none_and_mentions_beyond_the_limit_are_refused_before_storing()
    {
        await using var cluster = await StartAsync(instances: 1, answerBurst: 1);
        var carol = await cluster.CreateUserAsync("carol-ai");
        var roomId = await cluster.CreateRoomAsync(carol);
        var marker = Guid.NewGuid().ToString("N");
        _fake.AnswerRequest = request => request.Body.Contains(marker, StringComparison.Ordinal) ? new FakeAnswer(["Hello ", "carol"]) : null;
        await using var socket = await cluster.ConnectAsync(0, roomId, carol);

        await socket.SendAsync(new { type = "chat", content = $"no mention here, nor in carol@ai.example {marker}" });
        await socket.SendAsync(new { type = "chat", content = $"@AI hello {marker}" });
        var done = await socket.WaitForTypeAsync("ai_done", timeout: TimeSpan.FromSeconds(20));
        Assert.Equal("completed", done.GetProperty("status").GetString());
        var stored = await socket.WaitForTypeAsync("chat", f => f.GetProperty("id").GetGuid() == done.GetProperty("message_id").GetGuid());
        Assert.Equal("Hello carol", stored.GetProperty("content").GetString());
        Assert.Single(_fake.ChatRequests, r => r.Body.Contains(marker, StringComparison.Ordinal)); // the plain message asked nothing
        // No workspace: no tools offered.
        Assert.False(_fake.ChatRequests.Single(r => r.Body.Contains(marker, StringComparison.Ordinal)).Json.TryGetProperty("tools", out _));

        var refusedId = Guid.NewGuid();
        await socket.SendAsync(new { type = "chat", id = refusedId, content = "@ai once more" });
        var error = await socket.WaitForTypeAsync("error", f => f.TryGetProperty("id", out var id) && id.GetGuid() == refusedId);
        Assert.Equal("rate_limited", error.GetProperty("code").GetString());
        using var http = cluster.Http(0, carol);
        var history = await http.GetFromJsonAsync<JsonElement>($"/chat/{roomId}/history?limit=50");
        Assert.DoesNotContain(history.EnumerateArray(), m => m.GetProperty("id").GetGuid() == refusedId);
        Assert.Equal(3, history.GetArrayLength()); // the plain message, the question, the answer
    }
}
