using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;

namespace Conductor.Api.Chat;

/// <summary>
/// SignalR's default (single-instance) lifetime manager for the chat hub, which also keeps each connection's
/// <see cref="HubConnectionContext"/>: the room feeds write a frame to it as the frame's one
/// <see cref="SerializedHubMessage"/>, serialised once per protocol for every recipient instead of once per
/// recipient (what <c>Clients.Client(id).SendAsync</c> does). Instances reach each other through Redis room channels,
/// not a SignalR backplane.
/// </summary>
public sealed class ChatHubLifetimeManager(ILogger<DefaultHubLifetimeManager<ChatHub>> logger) : DefaultHubLifetimeManager<ChatHub>(logger)
{
    private readonly ConcurrentDictionary<string, HubConnectionContext> _connections = new();

    public override Task OnConnectedAsync(HubConnectionContext connection)
    {
        _connections[connection.ConnectionId] = connection;
        return base.OnConnectedAsync(connection);
    }

    public override Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        _connections.TryRemove(connection.ConnectionId, out _);
        return base.OnDisconnectedAsync(connection);
    }

    /// <summary>Writes the frame to one connection; nothing when it has gone.</summary>
    public ValueTask WriteAsync(string connectionId, OutboundFrame frame, CancellationToken cancellationToken) =>
        _connections.TryGetValue(connectionId, out var connection) ? connection.WriteAsync(frame.HubMessage, cancellationToken) : ValueTask.CompletedTask;
}
