using Microsoft.AspNetCore.SignalR;

namespace Conductor.Api.Chat;

/// <summary>One hub connection's membership of one room, fed by the room's feed like a socket.</summary>
internal sealed class HubChatConnection(ChatHubLifetimeManager hubConnections, HubCallerContext context, Guid roomId, ChatCaller caller,
    int queueLimit, HubRooms rooms, ChatFanout fanout)
    : ChatConnection(roomId, caller, $"hub:{context.ConnectionId}:{roomId:N}", queueLimit)
{
    private readonly string _hubConnectionId = context.ConnectionId;

    public void Start() => _ = PumpSafelyAsync();

    private async Task PumpSafelyAsync()
    {
        try
        {
            await PumpAsync(context.ConnectionAborted);
        }
        catch (OperationCanceledException)
        {
        }
    }

    protected override Task SendAsync(OutboundFrame frame, CancellationToken cancellationToken) =>
        hubConnections.WriteAsync(_hubConnectionId, frame, cancellationToken).AsTask();

    public override async Task CloseAsync(ChatCloseReason reason)
    {
        if (reason == ChatCloseReason.TooSlow)
        {
            context.Abort();
        }
        // A removed member stops receiving the room (the member_removed RoomEvent queued before this tells them why);
        // their other rooms on the same connection are unaffected.
        if (rooms.TryRemove(_hubConnectionId, RoomId, out var connection))
        {
            await fanout.LeaveAsync(connection, CancellationToken.None);
        }
    }
}
