using System.Net.WebSockets;

namespace Conductor.Api.Chat;

/// <summary>A raw socket in one room. Sends (frames and the close) are serialised: a WebSocket allows one sender at a time.</summary>
internal sealed class SocketChatConnection(WebSocket socket, Guid roomId, ChatCaller caller, int queueLimit, CancellationTokenSource closing)
    : ChatConnection(roomId, caller, $"ws:{Guid.NewGuid():N}", queueLimit)
{
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    protected override async Task SendAsync(OutboundFrame frame, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken);
        try
        {
            if (socket.State == WebSocketState.Open)
            {
                await socket.SendAsync(frame.Utf8, WebSocketMessageType.Text, true, cancellationToken);
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public override Task CloseAsync(ChatCloseReason reason) => reason switch
    {
        ChatCloseReason.Removed => CloseAsync(WebSocketCloseStatus.PolicyViolation, "removed from the room"),
        _ => CloseAsync(WebSocketCloseStatus.PolicyViolation, "too slow: frames were not read"),
    };

    public async Task CloseAsync(WebSocketCloseStatus status, string description)
    {
        CompleteOutbound();
        try
        {
            await _sendLock.WaitAsync(TimeSpan.FromSeconds(5));
            try
            {
                if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await socket.CloseOutputAsync(status, description, timeout.Token);
                }
            }
            finally
            {
                _sendLock.Release();
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        if (status != WebSocketCloseStatus.NormalClosure)
        {
            // The client answers our close frame and the receive loop ends by itself; cancelling the read now
            // would abort the socket before the 1008 reaches the client. A client that never answers is cut off.
            try
            {
                closing.CancelAfter(TimeSpan.FromSeconds(5));
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}
