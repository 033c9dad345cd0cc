using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Conductor.Tests.Chat;

/// <summary>A raw WebSocket client speaking the chat protocol: records every frame it receives, in order.</summary>
public sealed class ChatSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly List<JsonElement> _frames = [];
    private readonly Task _receiving;
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    private ChatSocket(ClientWebSocket socket)
    {
        _socket = socket;
        _receiving = Task.Run(ReceiveAsync);
    }

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;
    public string? CloseStatusDescription => _socket.CloseStatusDescription;
    public WebSocketState State => _socket.State;
    public Task Closed => _receiving;

    public static Task<ChatSocket> ConnectAsync(Uri url) => ConnectAsync(new SocketEndpoint(url, null));

    public static async Task<ChatSocket> ConnectAsync(SocketEndpoint endpoint)
    {
        var socket = new ClientWebSocket();
        endpoint.Apply(socket.Options);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await socket.ConnectAsync(endpoint.Url, timeout.Token);
        return new ChatSocket(socket);
    }

    public IReadOnlyList<JsonElement> Frames
    {
        get
        {
            lock (_frames)
            {
                return [.. _frames];
            }
        }
    }

    public IReadOnlyList<JsonElement> Chats => [.. Frames.Where(f => f.GetProperty("type").GetString() == "chat")];

    public Task SendAsync(object frame) => SendTextAsync(JsonSerializer.Serialize(frame));

    public async Task SendTextAsync(string text, WebSocketMessageType type = WebSocketMessageType.Text)
    {
        await _sendLock.WaitAsync();
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(text), type, true, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>The first frame received (so far or within <paramref name="timeout"/>) that matches.</summary>
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            foreach (var frame in Frames)
            {
                if (match(frame))
                {
                    return frame;
                }
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"No frame matched{(what is null ? "" : $" ({what})")}; received: {string.Join("\n", Frames.Select(f => f.GetRawText()))}");
            }
            await Task.Delay(20);
        }
    }

    public Task<JsonElement> WaitForTypeAsync(string type, Func<JsonElement, bool>? match = null, TimeSpan? timeout = null) =>
        WaitForAsync(f => f.GetProperty("type").GetString() == type && (match?.Invoke(f) ?? true), timeout, type);

    public async Task WaitForChatsAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (Chats.Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Received {Chats.Count} of {count} chat frames.");
            }
            await Task.Delay(20);
        }
    }

    public async Task<WebSocketCloseStatus?> WaitForCloseAsync(TimeSpan? timeout = null)
    {
        await _receiving.WaitAsync(timeout ?? TimeSpan.FromSeconds(10));
        return _socket.CloseStatus;
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[1 << 20];
        try
        {
            while (true)
            {
                var length = 0;
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None) is var r
                        ? new WebSocketReceiveResult(r.Count, r.MessageType, r.EndOfMessage) : null!;
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
                lock (_frames)
                {
                    _frames.Add(document.RootElement.Clone());
                }
            }
        }
        catch (WebSocketException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
        {
        }
        _socket.Dispose();
    }
}
