using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Conductor.Cli;

/// <summary>
/// The room's raw WebSocket (<c>/ws/{room_id}</c>, docs/chat.md): frames in and out as JSON. The access token goes
/// in the Authorization header, never in the URL (the query form exists only for browsers).
/// </summary>
public sealed class RoomSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly SemaphoreSlim _sendGate = new(1, 1);

    private RoomSocket()
    {
    }

    public static async Task<RoomSocket> ConnectAsync(ConductorClient client, Guid roomId, CancellationToken cancellationToken)
    {
        var socket = new RoomSocket();
        socket._socket.Options.SetRequestHeader("Authorization", "Bearer " + await client.GetAccessTokenAsync(cancellationToken));
        var uri = new UriBuilder(new Uri(client.Server, $"ws/{roomId:D}")) { Scheme = client.Server.Scheme == "https" ? "wss" : "ws" }.Uri;
        try
        {
            await socket._socket.ConnectAsync(uri, cancellationToken);
        }
        catch (WebSocketException ex)
        {
            await socket.DisposeAsync();
            throw new CliException(ExitCodes.Unreachable, $"Cannot open the room's live connection: {ex.Message}", "unreachable");
        }
        return socket;
    }

    public async Task SendAsync(object frame, CancellationToken cancellationToken)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(frame, ConductorClient.Json);
        await _sendGate.WaitAsync(cancellationToken);
        try
        {
            await _socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        }
        finally
        {
            _sendGate.Release();
        }
    }

    /// <summary>The server's frames until it closes; a close for authorisation (1008) is an error.</summary>
    public async IAsyncEnumerable<JsonElement> ReadAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        while (_socket.State == WebSocketState.Open)
        {
            WebSocketReceiveResult received;
            try
            {
                received = await _socket.ReceiveAsync(buffer, cancellationToken);
            }
            catch (WebSocketException)
            {
                yield break;
            }
            if (received.MessageType == WebSocketMessageType.Close)
            {
                if (_socket.CloseStatus == WebSocketCloseStatus.PolicyViolation)
                {
                    throw new CliException(ExitCodes.Forbidden, $"The room closed the connection: {_socket.CloseStatusDescription}", "not_in_room");
                }
                yield break;
            }
            message.Write(buffer, 0, received.Count);
            if (!received.EndOfMessage)
            {
                continue;
            }
            var text = Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
            message.SetLength(0);
            JsonElement frame;
            try
            {
                frame = JsonDocument.Parse(text).RootElement.Clone();
            }
            catch (JsonException)
            {
                continue;
            }
            yield return frame;
        }
    }

    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        if (_socket.State == WebSocketState.Open)
        {
            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await CloseAsync(CancellationToken.None);
        }
        catch (WebSocketException)
        {
        }
        _socket.Dispose();
        _sendGate.Dispose();
    }
}
