using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conductor.Tests.Ai;
using Conductor.Tests.Auth;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Npgsql;

namespace Conductor.Tests.Mcp;

/// <summary>The Api's /mcp server driven by the MCP C# client, as a coding agent (Claude Code, Copilot, Cursor) drives it.</summary>
[Collection(ConductorApiCollection.Name)]
public sealed class McpServerTests(ConductorApiFixture fixture)
{
    private async Task<McpClient> ConnectAsync(string accessToken) =>
        await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(fixture.Url, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {accessToken}" },
        }), new McpClientOptions { ClientInfo = new Implementation { Name = "test-agent", Version = "9.9" } });

    private static async Task<(bool IsError, string Text)> CallAsync(McpClient client, string tool, Dictionary<string, object?> arguments)
    {
        var result = await client.CallToolAsync(tool, arguments);
        var text = string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text));
        return (result.IsError == true, text);
    }

    private static async Task<JsonElement> CallOkAsync(McpClient client, string tool, Dictionary<string, object?> arguments)
    {
        var (isError, text) = await CallAsync(client, tool, arguments);
        Assert.False(isError, $"{tool}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static void Git(string folder, params string[] arguments)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-c", "user.name=Test", "-c", "user.email=test@example.com" }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }
        using var git = Process.Start(start)!;
        git.WaitForExit();
        Assert.True(git.ExitCode == 0, git.StandardError.ReadToEnd());
    }

    private async Task<List<(string Tool, string Outcome)>> CallsOfAsync(Guid userId)
    {
        await using var dataSource = NpgsqlDataSource.Create(fixture.ConnectionString);
        await using var command = dataSource.CreateCommand("SELECT tool, outcome FROM mcp_calls WHERE user_id = $1 ORDER BY seq");
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        await using var reader = await command.ExecuteReaderAsync();
        var calls = new List<(string, string)>();
        while (await reader.ReadAsync())
        {
            calls.Add((reader.GetString(0), reader.GetString(1)));
        }
        return calls;
    }

    [Fact]
    public async Task A_member_s_agent_reads_the_room_and_its_proposed_change_waits_as_a_pending_change_set()
    {
        var (host, _, roomId) = await fixture.HostWithRoomAsync();
        var (_, guest) = await fixture.GuestAsync(host, roomId);
        var root = fixture.WorkspacePath(roomId);
        Directory.CreateDirectory(Path.Combine(root, "src"));
        await File.WriteAllTextAsync(Path.Combine(root, "package.json"), "{\"name\":\"demo\"}\n");
        await File.WriteAllTextAsync(Path.Combine(root, "src/app.ts"), "export const answer = 41;\n");
        Git(root, "init", "-q", "-b", "main");
        Git(root, "add", "-A");
        Git(root, "commit", "-q", "-m", "initial");
        await File.WriteAllTextAsync(Path.Combine(root, "src/app.ts"), "export const answer = 42;\n");
        await ApiClient.ExpectAsync(await host.PostAsync($"/chat/{roomId}/messages", new { content = "hello, agents" }), HttpStatusCode.Created);

        await using var agent = await ConnectAsync(guest.AccessToken);
        var tools = (await agent.ListToolsAsync()).Select(t => t.Name).Order().ToList();
        Assert.Equal(["list_files", "list_rooms", "post_message", "propose_changes", "read_chat", "read_file", "search_files", "workspace_diff",
            "workspace_status"], tools);

        var rooms = await CallOkAsync(agent, "list_rooms", []);
        var room = Assert.Single(rooms.GetProperty("rooms").EnumerateArray());
        Assert.Equal((roomId, "guest"), (room.GetProperty("room_id").GetGuid(), room.GetProperty("role").GetString()));
        var chat = await CallOkAsync(agent, "read_chat", new() { ["room_id"] = roomId.ToString() });
        Assert.Contains(chat.GetProperty("messages").EnumerateArray(), m => m.GetProperty("content").GetString() == "hello, agents");
        var listed = await CallOkAsync(agent, "list_files", new() { ["room_id"] = roomId.ToString(), ["recursive"] = true });
        Assert.Contains(listed.GetProperty("files").EnumerateArray(), f => f.GetProperty("path").GetString() == "src/app.ts");
        var read = await CallOkAsync(agent, "read_file", new() { ["room_id"] = roomId.ToString(), ["path"] = "package.json" });
        Assert.Equal("{\"name\":\"demo\"}\n", read.GetProperty("content").GetString());
        var found = await CallOkAsync(agent, "search_files", new() { ["room_id"] = roomId.ToString(), ["query"] = "answer" });
        Assert.Equal("src/app.ts", Assert.Single(found.GetProperty("matches").EnumerateArray()).GetProperty("file_path").GetString());
        var status = await CallOkAsync(agent, "workspace_status", new() { ["room_id"] = roomId.ToString() });
        Assert.Contains(status.GetProperty("files").EnumerateArray(), f => f.GetProperty("path").GetString() == "src/app.ts");
        var diff = await CallOkAsync(agent, "workspace_diff", new() { ["room_id"] = roomId.ToString(), ["path"] = "src/app.ts" });
        Assert.Contains("+export const answer = 42;", diff.GetProperty("patch").GetString(), StringComparison.Ordinal);
        await CallOkAsync(agent, "post_message", new() { ["room_id"] = roomId.ToString(), ["text"] = "agent checking in" });

        // A configuration change needs review: stored as a pending change set, the file untouched.
        var proposal = await CallOkAsync(agent, "propose_changes", new()
        {
            ["room_id"] = roomId.ToString(),
            ["description"] = "Add a version",
            ["changes"] = new[] { new { file_path = "package.json", type = "modify", content = "{\"name\":\"demo\",\"version\":\"1.0.0\"}\n", rationale = "versioned" } },
        });
        Assert.Equal(("pending", "review_required"), (proposal.GetProperty("status").GetString(), proposal.GetProperty("decision").GetString()));
        var setId = proposal.GetProperty("change_set_id").GetGuid();
        var set = await ApiClient.ExpectAsync(await host.GetAsync($"/changes/{setId}"), HttpStatusCode.OK);
        Assert.Equal("mcp:test-agent", set.GetProperty("agent").GetString());
        var change = Assert.Single(set.GetProperty("changes").EnumerateArray());
        Assert.Equal(("package.json", "modify", "pending"), (change.GetProperty("file_path").GetString(), change.GetProperty("type").GetString(),
            change.GetProperty("status").GetString()));
        Assert.Contains("+{\"name\":\"demo\",\"version\":\"1.0.0\"}", change.GetProperty("diff").GetString(), StringComparison.Ordinal);
        Assert.Equal("{\"name\":\"demo\"}\n", await File.ReadAllTextAsync(Path.Combine(root, "package.json")));
        var history = await ApiClient.ExpectAsync(await host.GetAsync($"/chat/{roomId}/history"), HttpStatusCode.OK);
        var texts = history.EnumerateArray().Select(m => m.GetProperty("content").ToString()).ToList();
        Assert.Contains("agent checking in", texts);
        Assert.Contains(texts, t => t.Contains(setId.ToString("D"), StringComparison.Ordinal));
        // A member applies it through the ordinary review flow.
        await ApiClient.ExpectAsync(await host.PostAsync($"/changes/{setId}/apply", new { change_ids = new[] { change.GetProperty("id").GetGuid() } }), HttpStatusCode.OK);
        Assert.Contains("1.0.0", await File.ReadAllTextAsync(Path.Combine(root, "package.json")), StringComparison.Ordinal);

        // A plain code change the policy rates apply_all is applied at once, and audited as applied by the agent's user.
        var applied = await CallOkAsync(agent, "propose_changes", new()
        {
            ["room_id"] = roomId.ToString(),
            ["description"] = "Create a note",
            ["changes"] = new[] { new { file_path = "docs/note.md", type = "create", content = "# Note\n" } },
        });
        Assert.Equal(("applied", "apply_all"), (applied.GetProperty("status").GetString(), applied.GetProperty("decision").GetString()));
        Assert.Equal("# Note\n", await File.ReadAllTextAsync(Path.Combine(root, "docs/note.md")));
        var audit = await ApiClient.ExpectAsync(await host.GetAsync($"/audit?room_id={roomId}"), HttpStatusCode.OK);
        Assert.Contains(audit.GetProperty("entries").EnumerateArray(),
            e => e.GetProperty("file_path").GetString() == "docs/note.md" && e.GetProperty("user_id").GetGuid() == guest.UserId);

        // Invalid proposals are refused with the reasons, and nothing is written.
        var (isError, text) = await CallAsync(agent, "propose_changes", new()
        {
            ["room_id"] = roomId.ToString(),
            ["description"] = "Bad",
            ["changes"] = new[] { new { file_path = "../outside.txt", type = "create", content = "x" } },
        });
        Assert.True(isError);
        Assert.Contains("'..' segments are not allowed", text, StringComparison.Ordinal);

        var calls = await CallsOfAsync(guest.UserId);
        Assert.Equal(["list_rooms", "read_chat", "list_files", "read_file", "search_files", "workspace_status", "workspace_diff", "post_message",
            "propose_changes", "propose_changes", "propose_changes"], calls.Select(c => c.Tool));
        Assert.Equal("refused", calls[^1].Outcome);
        Assert.All(calls.SkipLast(1), c => Assert.Equal("ok", c.Outcome));
    }

    [Fact]
    public async Task A_non_member_s_agent_reads_nothing_and_proposes_nothing()
    {
        var (host, _, roomId) = await fixture.HostWithRoomAsync();
        await File.WriteAllTextAsync(Path.Combine(fixture.WorkspacePath(roomId), "secret-plan.md"), "the plan\n");
        await ApiClient.ExpectAsync(await host.PostAsync($"/chat/{roomId}/messages", new { content = "members only" }), HttpStatusCode.Created);
        using var anonymous = fixture.Client();
        var outsider = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("outsider"));

        await using var agent = await ConnectAsync(outsider.AccessToken);
        Assert.Empty((await CallOkAsync(agent, "list_rooms", [])).GetProperty("rooms").EnumerateArray());
        var attempts = new (string Tool, Dictionary<string, object?> Arguments)[]
        {
            ("read_chat", new() { ["room_id"] = roomId.ToString() }),
            ("list_files", new() { ["room_id"] = roomId.ToString() }),
            ("read_file", new() { ["room_id"] = roomId.ToString(), ["path"] = "secret-plan.md" }),
            ("search_files", new() { ["room_id"] = roomId.ToString(), ["query"] = "plan" }),
            ("workspace_status", new() { ["room_id"] = roomId.ToString() }),
            ("workspace_diff", new() { ["room_id"] = roomId.ToString(), ["path"] = "secret-plan.md" }),
            ("post_message", new() { ["room_id"] = roomId.ToString(), ["text"] = "let me in" }),
            ("propose_changes", new()
            {
                ["room_id"] = roomId.ToString(),
                ["description"] = "sneak",
                ["changes"] = new[] { new { file_path = "secret-plan.md", type = "delete" } },
            }),
        };
        foreach (var (tool, arguments) in attempts)
        {
            var (isError, text) = await CallAsync(agent, tool, arguments);
            Assert.True(isError, $"{tool} answered a non-member: {text}");
            Assert.EndsWith("You are not a member of this room.", text, StringComparison.Ordinal);
            Assert.DoesNotContain("plan", text, StringComparison.Ordinal);
        }
        var (malformed, reason) = await CallAsync(agent, "read_chat", new() { ["room_id"] = "not-a-room" });
        Assert.True(malformed);
        Assert.Contains("is not a UUID", reason, StringComparison.Ordinal);

        Assert.Equal("the plan\n", await File.ReadAllTextAsync(Path.Combine(fixture.WorkspacePath(roomId), "secret-plan.md")));
        var history = await ApiClient.ExpectAsync(await host.GetAsync($"/chat/{roomId}/history"), HttpStatusCode.OK);
        Assert.DoesNotContain(history.EnumerateArray(), m => m.GetProperty("content").ToString() == "let me in");
        var calls = await CallsOfAsync(outsider.UserId);
        Assert.Equal(("list_rooms", "ok"), calls[0]);
        Assert.Equal(attempts.Length + 1, calls.Count(c => c.Outcome == "refused"));

        // Without a token there is no MCP session at all.
        using var http = new HttpClient { BaseAddress = fixture.Url };
        using var noToken = await http.PostAsJsonAsync("/mcp", new { jsonrpc = "2.0", id = 1, method = "tools/list" });
        Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
    }

    [Fact]
    public async Task An_agent_beyond_its_user_s_rate_limit_is_answered_429_by_every_instance()
    {
        // Two Apis of their own over the fixture's database and Redis, with a limit of 3 MCP requests per 10 minutes.
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings__conductordb"] = fixture.ConnectionString,
            ["ConnectionStrings__redis"] = fixture.Redis.ConnectionString,
            ["Auth__DevLogin"] = "true",
            ["Auth__RateLimit__PermitLimit"] = "100000",
            ["Web__PublicUrl"] = "https://conductor.example",
            ["Workspaces__Root"] = fixture.WorkspaceRoot,
            ["Mcp__PermitLimit"] = "3",
            ["Mcp__Window"] = "00:10:00",
        };
        var started = await Task.WhenAll(
            Conductor.Tests.Infrastructure.ServiceInstance.StartListeningAsync("Conductor.Api", settings, ApiCluster.StartTimeout),
            Conductor.Tests.Infrastructure.ServiceInstance.StartListeningAsync("Conductor.Api", settings, ApiCluster.StartTimeout));
        await using var first = started[0].Instance;
        await using var second = started[1].Instance;
        var (firstUrl, secondUrl) = (started[0].Url, started[1].Url);
        using var anonymous = new ApiClient(firstUrl);
        var user = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("busy"));

        // The user's budget is one, wherever the requests land: two on the first instance, then the second one.
        var statuses = new List<HttpStatusCode>();
        foreach (var (url, i) in new[] { firstUrl, firstUrl, secondUrl, secondUrl, firstUrl }.Select((u, i) => (u, i)))
        {
            using var http = new HttpClient { BaseAddress = url };
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", user.AccessToken);
            http.DefaultRequestHeaders.Accept.ParseAdd("application/json");
            http.DefaultRequestHeaders.Accept.ParseAdd("text/event-stream");
            using var response = await http.PostAsJsonAsync("/mcp", new
            {
                jsonrpc = "2.0",
                id = i + 1,
                method = "initialize",
                @params = new { protocolVersion = "2025-06-18", capabilities = new { }, clientInfo = new { name = "busy-agent", version = "1" } },
            });
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                var problem = await ApiClient.ExpectProblemAsync(response, HttpStatusCode.TooManyRequests, "Too many MCP requests");
                Assert.Equal("rate_limited", problem.GetProperty("code").GetString());
                // Until the 10-minute window ends.
                Assert.InRange(response.Headers.RetryAfter?.Delta ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
            }
        }
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);

        // Another user's agents have their own budget.
        var other = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("calm"));
        await using var agent = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(secondUrl, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {other.AccessToken}" },
        }));
        Assert.Empty((await CallOkAsync(agent, "list_rooms", [])).GetProperty("rooms").EnumerateArray());
    }
}
