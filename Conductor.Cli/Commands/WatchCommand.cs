using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Conductor.Cli.Commands;

/// <summary>
/// A live view of the room (SteadyState's dashboard): members and who is online, recent messages, jobs, syncs and
/// pushes, redrawn as the room's events arrive over its WebSocket. <c>--once</c> prints the current state and exits;
/// with <c>--json</c> the state is one JSON line and each event another.
/// </summary>
public static class WatchCommand
{
    private const int Keep = 8;

    public static Command Create()
    {
        var once = new Option<bool>("--once") { Description = "Print the room's state once and exit" };
        var command = new Command("watch", "A live view of the room: members online, messages, jobs, syncs") { GlobalOptions.Room, once };
        command.SetHandler(async (result, output, cancellationToken) =>
        {
            using var client = GlobalOptions.ClientFor(result);
            var roomId = await RoomContext.ResolveAsync(result.GetValue(GlobalOptions.Room), cancellationToken);
            var state = await LoadAsync(client, roomId, cancellationToken);
            if (result.GetValue(once))
            {
                output.Result(state.ToJson(), () => state.ToText());
                return ExitCodes.Ok;
            }
            await using var socket = await RoomSocket.ConnectAsync(client, roomId, cancellationToken);
            try
            {
                if (!output.Interactive)
                {
                    // With --json: the state as one JSON line, then each room event as another (NDJSON).
                    output.Line(state.ToJson(), state.ToText());
                    await foreach (var frame in socket.ReadAsync(cancellationToken))
                    {
                        state.Apply(frame);
                        output.Line(frame, WatchState.Describe(frame));
                    }
                    return ExitCodes.Ok;
                }
                await AnsiConsole.Live(state.Render()).StartAsync(async context =>
                {
                    await foreach (var frame in socket.ReadAsync(cancellationToken))
                    {
                        state.Apply(frame);
                        context.UpdateTarget(state.Render());
                    }
                });
                return ExitCodes.Ok;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl+C (SIGINT) or SIGTERM is how a watch ends: a clean exit (the socket is closed on disposal).
                return ExitCodes.Ok;
            }
        });
        return command;
    }

    private static async Task<WatchState> LoadAsync(ConductorClient client, Guid roomId, CancellationToken cancellationToken)
    {
        var room = await client.GetAsync<JsonElement>($"rooms/{roomId}", cancellationToken);
        var history = await client.GetAsync<JsonElement>($"chat/{roomId}/history?limit={Keep}", cancellationToken);
        JsonElement? workspace = null;
        try
        {
            workspace = await client.GetAsync<JsonElement>($"workspace/{roomId}", cancellationToken);
        }
        catch (CliException ex) when (ex.ExitCode == ExitCodes.NotFound)
        {
        }
        var audit = await client.GetAsync<JsonElement>($"audit?room_id={roomId}", cancellationToken);
        return new WatchState(room, history, workspace, audit);
    }

    /// <summary>What the view shows, kept up to date from the room's frames.</summary>
    private sealed class WatchState
    {
        private readonly string _name;
        private readonly Dictionary<Guid, (string Login, string Role, bool Online)> _members = [];
        private readonly List<string> _messages = [];
        private readonly List<string> _activity = [];
        private string _workspace;

        public WatchState(JsonElement room, JsonElement history, JsonElement? workspace, JsonElement audit)
        {
            _name = room.GetProperty("name").GetString()!;
            RoomId = room.GetProperty("room_id").GetGuid();
            foreach (var member in room.GetProperty("members").EnumerateArray())
            {
                _members[member.GetProperty("user_id").GetGuid()] = (member.GetProperty("login").GetString()!, member.GetProperty("role").GetString()!,
                    member.TryGetProperty("online", out var online) && online.ValueKind == JsonValueKind.True);
            }
            var messages = history.ValueKind == JsonValueKind.Array ? history.EnumerateArray() : history.GetProperty("messages").EnumerateArray();
            foreach (var message in messages)
            {
                Add(_messages, Describe(message));
            }
            _workspace = workspace is { } w ? $"{w.GetProperty("status").GetString()} at {Short(w.GetProperty("head_commit"))}" : "none";
            foreach (var entry in audit.GetProperty("entries").EnumerateArray().Where(e => e.GetProperty("action").GetString() is "synced" or "sync_conflicts" or "published" or "pushed" or "push_refused"))
            {
                Add(_activity, $"{entry.GetProperty("action").GetString()}: {entry.GetProperty("detail").GetString()}");
            }
        }

        public Guid RoomId { get; }

        public void Apply(JsonElement frame)
        {
            var type = frame.TryGetProperty("type", out var t) ? t.GetString() : null;
            switch (type)
            {
                case "chat":
                    Add(_messages, Describe(frame));
                    break;
                case "presence":
                    var online = frame.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("user_id").GetGuid()).ToHashSet();
                    foreach (var id in _members.Keys.ToList())
                    {
                        _members[id] = _members[id] with { Online = online.Contains(id) };
                    }
                    break;
                case "user_joined" or "user_left":
                    var userId = frame.GetProperty("user_id").GetGuid();
                    var known = _members.GetValueOrDefault(userId, (Login: frame.GetProperty("login").GetString()!, Role: "guest", Online: false));
                    _members[userId] = known with { Online = type == "user_joined" };
                    break;
                case "workspace":
                    _workspace = $"{frame.GetProperty("status").GetString()}" + (frame.TryGetProperty("head_commit", out var head) ? $" at {Short(head)}" : "");
                    break;
                case "job" or "workspace_sync" or "command_started" or "command_finished" or "command_refused" or "member_joined" or "member_left" or "member_removed" or "room_ended" or "host_transferred":
                    Add(_activity, Describe(frame));
                    break;
            }
        }

        public object ToJson() => new
        {
            room_id = RoomId,
            name = _name,
            workspace = _workspace,
            members = _members.Select(m => new { user_id = m.Key, login = m.Value.Login, role = m.Value.Role, online = m.Value.Online }),
            messages = _messages,
            activity = _activity,
        };

        public string ToText() =>
            $"Room {_name} ({RoomId})\nWorkspace: {_workspace}\nMembers: " +
            string.Join(", ", _members.Values.Select(m => $"{m.Login}{(m.Role == "host" ? " (host)" : "")}{(m.Online ? " ●" : "")}")) +
            "\nMessages:\n" + string.Concat(_messages.Select(m => $"  {m}\n")) + "Activity:\n" + string.Concat(_activity.Select(a => $"  {a}\n"));

        public IRenderable Render()
        {
            var members = new Table().AddColumns("Member", "Role", "Online");
            foreach (var member in _members.Values.OrderBy(m => m.Login, StringComparer.Ordinal))
            {
                members.AddRow(Markup.Escape(member.Login), member.Role, member.Online ? "[green]●[/]" : "[grey]○[/]");
            }
            return new Rows(
                new Markup($"[bold]{Markup.Escape(_name)}[/]  workspace: {Markup.Escape(_workspace)}"),
                members,
                new Panel(new Text(string.Join('\n', _messages))).Header("Messages"),
                new Panel(new Text(string.Join('\n', _activity))).Header("Jobs, syncs and pushes"));
        }

        public static string Describe(JsonElement frame)
        {
            var type = frame.TryGetProperty("type", out var t) ? t.GetString() : null;
            string Get(string name) => frame.TryGetProperty(name, out var value) ? value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText() : "";
            return type switch
            {
                "chat" => $"{Get("login")}: {Get("content")}",
                "job" => $"job {Get("kind")} {Get("status")} {Get("message")}".TrimEnd(),
                "workspace_sync" => $"{Get("login")} {Get("action")}: {Get("status")} {Get("head_commit")}".TrimEnd(),
                "workspace" => $"workspace {Get("status")}",
                "command_started" => $"{Get("login")} ran {string.Join(' ', frame.TryGetProperty("argv", out var argv) ? argv.EnumerateArray().Select(a => a.GetString()) : [])}",
                "command_finished" => $"command {Get("status")} (exit {Get("exit_code")})",
                "command_refused" => $"command refused: {Get("reason")}",
                _ => $"{type} {Get("login")}".TrimEnd(),
            };
        }

        private static string Short(JsonElement commit) => commit.ValueKind == JsonValueKind.String ? commit.GetString()![..12] : "-";

        private static void Add(List<string> list, string line)
        {
            list.Add(line);
            if (list.Count > Keep)
            {
                list.RemoveAt(0);
            }
        }
    }
}
