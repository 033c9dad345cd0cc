using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

/// <summary>
/// The reference: a WebSocket endpoint, <c>/echo/{room}</c>, that turns every text frame it receives into a
/// chat-shaped frame (serialised once) and queues it to every socket of that room in memory, one send loop per socket:
/// no auth, storage, Redis or ordering. Served by the bench's own binary in a separate process
/// (<c>--bare-server URL</c>), so its CPU and memory are measured like the Api's.
/// </summary>
internal static class BareEcho
{
    public static async Task RunAsync(string url)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        builder.Logging.ClearProviders();
        await using var app = builder.Build();
        app.UseWebSockets();
        var rooms = new ConcurrentDictionary<string, ConcurrentDictionary<Guid, Channel<byte[]>>>();
        app.MapGet("/alive", () => "ok");
        app.Map("/echo/{room}", async (HttpContext context, string room) =>
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var members = rooms.GetOrAdd(room, _ => new());
            var id = Guid.NewGuid();
            var outbound = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
            members[id] = outbound;
            var sender = Task.Run(async () =>
            {
                await foreach (var frame in outbound.Reader.ReadAllAsync())
                {
                    await socket.SendAsync(frame, WebSocketMessageType.Text, true, CancellationToken.None);
                }
            });
            outbound.Writer.TryWrite("{\"type\":\"hello\"}"u8.ToArray());
            var buffer = new byte[1 << 16];
            try
            {
                while (true)
                {
                    var length = 0;
                    ValueWebSocketReceiveResult result;
                    do
                    {
                        result = await socket.ReceiveAsync(buffer.AsMemory(length), context.RequestAborted);
                        length += result.Count;
                    }
                    while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        break;
                    }
                    using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
                    var frame = JsonSerializer.SerializeToUtf8Bytes(new
                    {
                        type = "chat",
                        id = Guid.NewGuid(),
                        content = document.RootElement.GetProperty("content").GetString(),
                        timestamp = DateTime.UtcNow,
                    });
                    foreach (var target in members.Values)
                    {
                        target.Writer.TryWrite(frame);
                    }
                }
            }
            catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
            {
            }
            finally
            {
                members.TryRemove(id, out _);
                outbound.Writer.TryComplete();
                await sender.ContinueWith(_ => { }, TaskScheduler.Default);
                if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                }
            }
        });
        await app.RunAsync();
    }
}
