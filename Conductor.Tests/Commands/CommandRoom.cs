using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Conductor.Tests.Auth;
using Conductor.Tests.Chat;
using Conductor.Tests.Infrastructure;
using Conductor.Tests.Workspaces;

namespace Conductor.Tests.Commands;

/// <summary>
/// A room with a ready workspace (real Api, GitWorker, git remote), alice its host and bob a guest who joined by
/// invite; carol signed in but not a member. Helpers for commands, SSE streams and scripts in the worktree.
/// </summary>
internal sealed class CommandRoom : IAsyncDisposable
{
    private CommandRoom(WorkspaceHttpRoom room, ApiClient carol)
    {
        Room = room;
        Carol = carol;
    }

    public WorkspaceHttpRoom Room { get; }
    public ApiClient Alice => Room.Alice;
    /// <summary>A member (guest), unlike <see cref="WorkspaceHttpRoom.Bob"/> in the plain workspace setting.</summary>
    public ApiClient Bob => Room.Bob;
    public ApiClient Carol { get; }
    public Guid RoomId => Room.RoomId;
    public string Worktree => Path.Combine(Room.Env.Root, "worktrees", RoomId.ToString("D"));

    public static async Task<CommandRoom> StartAsync(PostgresServerFixture postgres, RedisServerFixture redis, string name,
        IReadOnlyDictionary<string, string>? apiSettings = null)
    {
        var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, name + ".git", name, apiSettings);
        try
        {
            var created = await ApiClient.ExpectAsync(await room.Alice.PostAsync("/workspace/create?wait=60",
                new { room_id = room.RoomId, repo_url = room.Env.Server.UrlOf(name + ".git"), token = room.Env.Token }), HttpStatusCode.Created);
            Assert.Equal("ready", created.GetProperty("status").GetString());
            var invite = (await ApiClient.ExpectAsync(await room.Alice.PostAsync($"/rooms/{room.RoomId}/invites", new { }), HttpStatusCode.Created))
                .GetProperty("token").GetString();
            await ApiClient.ExpectAsync(await room.Bob.PostAsync("/rooms/join", new { token = invite }), HttpStatusCode.OK);
            var carol = new ApiClient(room.Url);
            carol.Authorize((await carol.DevLoginAsync(ApiCluster.UniqueLogin("carol"))).AccessToken);
            return new CommandRoom(room, carol);
        }
        catch
        {
            await room.DisposeAsync();
            throw;
        }
    }

    /// <summary>Writes a file into the worktree through the Api (as any member would).</summary>
    public async Task WriteFileAsync(string path, string content)
    {
        using var put = new HttpRequestMessage(HttpMethod.Put, $"/workspace/{RoomId}/file?path={Uri.EscapeDataString(path)}") { Content = JsonContent.Create(new { content }) };
        await ApiClient.ExpectAsync(await Alice.SendAsync(put), HttpStatusCode.OK);
    }

    /// <summary>The host puts <paramref name="extra"/> on the room's allowlist (besides the defaults).</summary>
    public async Task AllowAsync(params string[] extra)
    {
        var settings = await ApiClient.ExpectAsync(await Alice.GetAsync($"/workspace/{RoomId}/commands/settings"), HttpStatusCode.OK);
        var list = settings.GetProperty("allowlist").EnumerateArray()
            .Select(e => new { command = e.GetProperty("command").GetString(), options = e.GetProperty("options").EnumerateArray().Select(o => o.GetString()).ToArray() })
            .Concat(extra.Select(c => new { command = (string?)c, options = Array.Empty<string?>() }))
            .ToList();
        using var put = new HttpRequestMessage(HttpMethod.Put, $"/workspace/{RoomId}/commands/settings") { Content = JsonContent.Create(new { allowlist = list }) };
        await ApiClient.ExpectAsync(await Alice.SendAsync(put), HttpStatusCode.OK);
    }

    public async Task PutSettingsAsync(ApiClient client, object settings, HttpStatusCode expected)
    {
        using var put = new HttpRequestMessage(HttpMethod.Put, $"/workspace/{RoomId}/commands/settings") { Content = JsonContent.Create(settings) };
        await ApiClient.ExpectAsync(await client.SendAsync(put), expected);
    }

    /// <summary>Runs a command and reads its SSE answer to the end: the events in order.</summary>
    public async Task<IReadOnlyList<SseItem<string>>> RunStreamingAsync(ApiClient client, object request, TimeSpan? timeout = null)
    {
        using var http = StreamingClient(client);
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        using var message = new HttpRequestMessage(HttpMethod.Post, $"/workspace/{RoomId}/commands") { Content = JsonContent.Create(request) };
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancel.Token)}");
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var items = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync(cancel.Token)).EnumerateAsync(cancel.Token))
        {
            items.Add(item);
        }
        return items;
    }

    /// <summary>Starts a command without waiting for it (201 with the running record).</summary>
    public async Task<JsonElement> StartAsync(ApiClient client, object request) =>
        await ApiClient.ExpectAsync(await client.PostAsync($"/workspace/{RoomId}/commands", request), HttpStatusCode.Created);

    public async Task<JsonElement> WaitFinishedAsync(Guid commandId, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var run = await ApiClient.ExpectAsync(await Alice.GetAsync($"/workspace/{RoomId}/commands/{commandId}"), HttpStatusCode.OK);
            if (run.GetProperty("status").GetString() != "running")
            {
                return run;
            }
            Assert.True(DateTime.UtcNow < deadline, $"Command {commandId} still running after {timeout}");
            await Task.Delay(100);
        }
    }

    public HttpClient StreamingClient(ApiClient client)
    {
        var http = new HttpClient { BaseAddress = Room.Url, Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", client.AccessToken);
        return http;
    }

    public SocketEndpoint SocketUrl(string path, ApiClient client) => new(new Uri($"ws://{Room.Url.Authority}{path}"), client.AccessToken);

    public static string Output(IEnumerable<SseItem<string>> items) =>
        string.Concat(items.Where(i => i.EventType == "output").Select(i => JsonDocument.Parse(i.Data).RootElement.GetProperty("text").GetString()));

    public static JsonElement Finished(IEnumerable<SseItem<string>> items) =>
        JsonDocument.Parse(Assert.Single(items, i => i.EventType == "finished").Data).RootElement.Clone();

    /// <summary>Host processes whose command line is exactly <paramref name="argv"/> (to find a command's leftovers).</summary>
    public static int CountHostProcesses(params string[] argv)
    {
        var wanted = string.Join('\0', argv) + "\0";
        var count = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out _))
            {
                continue;
            }
            try
            {
                if (File.ReadAllText(Path.Combine(directory, "cmdline")) == wanted)
                {
                    count++;
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return count;
    }

    public async ValueTask DisposeAsync()
    {
        Carol.Dispose();
        await Room.DisposeAsync();
    }
}
