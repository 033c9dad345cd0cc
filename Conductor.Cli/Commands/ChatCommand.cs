using System.CommandLine;
using System.Text.Json;

namespace Conductor.Cli.Commands;

/// <summary>
/// An interactive line chat: the last messages, then every new one as it arrives, while each line typed is sent.
/// End of input (Ctrl-D, or a closed pipe) ends it once the lines sent have come back from the room.
/// </summary>
public static class ChatCommand
{
    public static Command Create()
    {
        var history = new Option<int>("--history") { Description = "How many earlier messages to show first", DefaultValueFactory = _ => 20 };
        var command = new Command("chat", "Chat in the room: history, live messages, and a line of yours per Enter") { GlobalOptions.Room, history };
        command.SetHandler(async (result, output, cancellationToken) =>
        {
            using var client = GlobalOptions.ClientFor(result);
            var roomId = await RoomContext.ResolveAsync(result.GetValue(GlobalOptions.Room), cancellationToken);
            var limit = Math.Clamp(result.GetValue(history), 1, 200);
            var seen = new HashSet<Guid>();
            var earlier = await client.GetAsync<JsonElement>($"chat/{roomId}/history?limit={limit}", cancellationToken);
            foreach (var message in Messages(earlier))
            {
                Print(output, message, seen);
            }
            await using var socket = await RoomSocket.ConnectAsync(client, roomId, cancellationToken);
            var pending = new HashSet<Guid>();
            var drained = new TaskCompletionSource();
            var inputDone = false;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var reader = Task.Run(async () =>
            {
                await foreach (var frame in socket.ReadAsync(stop.Token))
                {
                    var type = frame.GetProperty("type").GetString();
                    if (type == "chat")
                    {
                        Print(output, frame, seen);
                        lock (pending)
                        {
                            pending.Remove(frame.GetProperty("id").GetGuid());
                            if (inputDone && pending.Count == 0)
                            {
                                drained.TrySetResult();
                            }
                        }
                    }
                    else if (type == "error")
                    {
                        output.Line(frame, $"! {frame.GetProperty("message").GetString()}");
                    }
                    else if (type is "user_joined" or "user_left")
                    {
                        output.Line(frame, $"* {frame.GetProperty("login").GetString()} {(type == "user_joined" ? "joined" : "left")}");
                    }
                }
                drained.TrySetResult();
            }, CancellationToken.None);

            string? line;
            while ((line = await Console.In.ReadLineAsync(cancellationToken)) is not null)
            {
                if (line.Trim().Length == 0)
                {
                    continue;
                }
                var id = Guid.NewGuid();
                lock (pending)
                {
                    pending.Add(id);
                }
                await socket.SendAsync(new { type = "chat", id, content = line }, cancellationToken);
            }
            lock (pending)
            {
                inputDone = true;
                if (pending.Count == 0)
                {
                    drained.TrySetResult();
                }
            }
            await Task.WhenAny(drained.Task, Task.Delay(TimeSpan.FromSeconds(10), cancellationToken));
            await stop.CancelAsync();
            await socket.CloseAsync(CancellationToken.None);
            try
            {
                await reader;
            }
            catch (OperationCanceledException)
            {
            }
            lock (pending)
            {
                return pending.Count == 0 ? ExitCodes.Ok : ExitCodes.Error;
            }
        });
        return command;
    }

    private static IEnumerable<JsonElement> Messages(JsonElement history) =>
        history.ValueKind == JsonValueKind.Array ? history.EnumerateArray()
        : history.TryGetProperty("messages", out var messages) ? messages.EnumerateArray() : [];

    private static void Print(Output output, JsonElement message, HashSet<Guid> seen)
    {
        if (!seen.Add(message.GetProperty("id").GetGuid()))
        {
            return;
        }
        var login = message.TryGetProperty("login", out var l) ? l.GetString() : message.TryGetProperty("user_login", out var u) ? u.GetString() : "?";
        var at = message.TryGetProperty("timestamp", out var c) ? c.GetDateTimeOffset().ToLocalTime().ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture) : "";
        var content = message.GetProperty("content");
        output.Line(message, $"[{at}] {login}: {(content.ValueKind == JsonValueKind.String ? content.GetString() : content.GetRawText())}");
    }
}
